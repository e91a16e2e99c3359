/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.h — the libmicrohttpd daemon: listening, reading requests within
 * their limits, authenticating, dispatching to the route table, logging
 * and counting each request.
 *
 * The daemon runs epoll in an internal thread pool sized to the cores.
 * A request's answer is queued on the second call of the access handler,
 * never the first (queueing on the first makes MHD close keep-alive
 * connections; see docs/ARCHITECTURE.md).
 */
#ifndef CPM_HTTP_SERVER_H
#define CPM_HTTP_SERVER_H

#include "core/common.h"
#include "core/detail.h"
#include "http/app.h"

struct cpm_http_options {
    char host[64]; /* numeric IPv4/IPv6 or "localhost" */
    uint16_t port; /* 0 picks a free port (tests) */
    unsigned threads;
    unsigned connection_timeout_s;
};

struct cpm_http;

/* Parses "HOST:PORT" or "[V6]:PORT" into opt. CPM_ERR_USAGE with detail. */
cpm_err cpm_http_parse_listen(const char *text, struct cpm_http_options *opt,
                              struct cpm_detail *detail) CPM_MUST_CHECK;

/* Starts serving app; CPM_ERR_IO with detail when the address cannot be bound. */
cpm_err cpm_http_start(struct cpm_app *app, const struct cpm_http_options *opt,
                       struct cpm_http **out, struct cpm_detail *detail) CPM_MUST_CHECK;
/* The port actually bound. */
uint16_t cpm_http_port(const struct cpm_http *http);
/* Stops accepting new connections; requests in flight go on. */
void cpm_http_quiesce(struct cpm_http *http);
/* Stops the daemon and frees it; NULL is a no-op. */
void cpm_http_free(struct cpm_http *http);

#endif /* CPM_HTTP_SERVER_H */
