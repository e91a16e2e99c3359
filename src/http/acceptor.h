/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acceptor.h — the listening socket, and the thread that accepts on it and
 * hands each connection to libmicrohttpd (MHD_add_connection).
 *
 * Why not MHD's own accept: in a thread pool each of MHD's workers polls
 * the listening socket and takes up to ten connections at a time, so a
 * burst of connections (a client's pool opening) lands unevenly — 20 on
 * one worker and 45 on the other was usual for wrk's 64 — and the crowded
 * worker's clients wait for it while the other idles. MHD_add_connection
 * places a connection by its descriptor's number, which alternates: the
 * workers get even shares. docs/BENCHMARKS.md has the figures.
 *
 * Thread safety: start and stop from one thread; the acceptor runs on its own.
 */
#ifndef CPM_HTTP_ACCEPTOR_H
#define CPM_HTTP_ACCEPTOR_H

#include <sys/socket.h>

#include "core/common.h"
#include "core/detail.h"

struct MHD_Daemon;
struct cpm_acceptor;

/*
 * Binds and listens on addr (IPv6 addresses only on IPv6). On success
 * *port is the port bound (the one chosen when addr's is 0). Nothing is
 * accepted until cpm_acceptor_run.
 */
cpm_err cpm_acceptor_listen(const struct sockaddr *addr, socklen_t addr_len,
                            struct cpm_acceptor **out, uint16_t *port, struct cpm_detail *detail);
/*
 * Starts accepting into daemon (started with MHD_USE_NO_LISTEN_SOCKET and
 * MHD_USE_ITC). While the daemon holds connections_max connections nothing
 * is accepted: clients wait in the kernel's backlog, as with MHD's own accept.
 */
cpm_err cpm_acceptor_run(struct cpm_acceptor *a, struct MHD_Daemon *daemon,
                         unsigned connections_max);
/* Stops accepting and closes the listening socket; a waiting client is refused. */
void cpm_acceptor_close(struct cpm_acceptor *a);

#endif /* CPM_HTTP_ACCEPTOR_H */
