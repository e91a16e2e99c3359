/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acceptor.c — accepts connections on one thread and hands them to
 * libmicrohttpd's workers in turn (acceptor.h says why).
 */
#include "core/common.h"

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "http/acceptor.h"

#define BACKLOG          SOMAXCONN
#define STARVED_PAUSE_MS 100 /* after accept fails for want of descriptors or memory */
#define FULL_PAUSE_MS    10  /* while libmicrohttpd holds all the connections it may */

struct cpm_acceptor {
    int listen_fd;
    int wake_fd; /* an eventfd: written to stop the thread */
    bool running;
    pthread_t thread;
    struct MHD_Daemon *daemon;
    unsigned connections_max;
    bool starved; /* accept has failed for want of descriptors or memory since the last success */
};

static int bound_socket(const struct sockaddr *addr, socklen_t addr_len)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        (addr->sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) ||
        bind(fd, addr, addr_len) != 0 || listen(fd, BACKLOG) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)&ss)->sin_port);
}

cpm_err cpm_acceptor_listen(const struct sockaddr *addr, socklen_t addr_len,
                            struct cpm_acceptor **out, uint16_t *port, struct cpm_detail *detail)
{
    struct cpm_acceptor *a = cpm_calloc(1, sizeof(*a));
    if (a == NULL)
        return CPM_ERR_NOMEM;
    a->listen_fd = bound_socket(addr, addr_len);
    if (a->listen_fd < 0) {
        cpm_detail_add(detail, "listen", "%s", strerror(errno));
        cpm_free(a);
        return CPM_ERR_IO;
    }
    a->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (a->wake_fd < 0) {
        cpm_detail_add(detail, "listen", "no eventfd: %s", strerror(errno));
        close(a->listen_fd);
        cpm_free(a);
        return CPM_ERR_IO;
    }
    *port = bound_port(a->listen_fd);
    *out = a;
    return CPM_OK;
}

/* True while MHD holds all the connections it may: the next ones wait in the kernel's backlog. */
static bool daemon_full(struct cpm_acceptor *a)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info != NULL && info->num_connections >= a->connections_max;
}

/* Accepts what is waiting; how long to pause before the next try (0: none). */
static int accept_waiting(struct cpm_acceptor *a)
{
    for (;;) {
        if (daemon_full(a))
            return FULL_PAUSE_MS;
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(a->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            /* MHD owns fd from here, and closes it itself when it cannot take it. */
            (void)MHD_add_connection(a->daemon, fd, (const struct sockaddr *)&ss, len);
            a->starved = false;
            continue;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            if (!a->starved) /* once a spell: clients wait in the backlog meanwhile */
                cpm_log_warn("http", "cannot accept connections for now: %s", strerror(errno));
            a->starved = true;
            return STARVED_PAUSE_MS;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        /* EINTR, or the connection's own trouble (ECONNABORTED, EPROTO…): the next one */
    }
}

static void *accept_loop(void *arg)
{
    struct cpm_acceptor *a = arg;
    struct pollfd fds[2] = {{.fd = a->listen_fd, .events = POLLIN},
                            {.fd = a->wake_fd, .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        if (fds[1].revents != 0)
            break;
        int pause_ms = fds[0].revents != 0 ? accept_waiting(a) : 0;
        if (pause_ms > 0)
            poll(fds + 1, 1, pause_ms); /* a stop still ends the pause */
    }
    return NULL;
}

cpm_err cpm_acceptor_run(struct cpm_acceptor *a, struct MHD_Daemon *daemon,
                         unsigned connections_max)
{
    a->daemon = daemon;
    a->connections_max = connections_max;
    if (pthread_create(&a->thread, NULL, accept_loop, a) != 0)
        return CPM_ERR_INTERNAL;
    a->running = true;
    return CPM_OK;
}

void cpm_acceptor_close(struct cpm_acceptor *a)
{
    if (a == NULL)
        return;
    if (a->running) {
        uint64_t one = 1;
        CPM_ASSERT(write(a->wake_fd, &one, sizeof(one)) == sizeof(one));
        pthread_join(a->thread, NULL);
    }
    close(a->listen_fd);
    close(a->wake_fd);
    cpm_free(a);
}
