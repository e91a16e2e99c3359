/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evidence_packs.c — GET /v1/evidence-packs (ledger:read): an evidence pack
 * for a regulator or an auditor, one ustar archive (docs/EVIDENCE-PACKS.md).
 *
 *   ?subject=ID                 a subject's events
 *   ?subject=ID&from=T&to=T     those recorded in [from, to)
 *   ?from=T&to=T                every event recorded in [from, to)
 *   &prior_size=N               plus a consistency proof from checkpoint N
 *
 * The pack is built into a private temporary file (bounded memory, and a
 * failure — over the event limit, say — is answered as a problem, never as
 * half an archive), then streamed from it; the file goes when the answer
 * is done.
 */
#include "core/common.h"

#include <unistd.h>

#include "api/api.h"
#include "core/clock.h"
#include "core/log.h"
#include "domain/subject.h"
#include "http/app.h"
#include "http/tempfile.h"
#include "store/evidence_pack.h"
#include "store/node_cache.h"

#define TAR_TYPE "application/x-tar"

/* Reads the query into q; false when it answered 422. */
static bool parse_query(struct cpm_request *req, struct cpm_evidence_pack_query *q)
{
    const char *subject = cpm_request_query(req, "subject");
    const char *from = cpm_request_query(req, "from");
    const char *to = cpm_request_query(req, "to");
    const char *prior = cpm_request_query(req, "prior_size");
    *q = (struct cpm_evidence_pack_query){.subject_id = subject,
                                          .ranged = from != NULL || to != NULL,
                                          .events_max = req->app->evidence_pack_events_max};
    if (subject != NULL && !cpm_subject_id_valid(subject))
        cpm_respond_error(req, CPM_ERR_VALIDATION, "subject",
                          "must be a subject id: 1–128 printable characters, no space or '/'");
    else if (subject == NULL && !q->ranged)
        cpm_respond_error(req, CPM_ERR_VALIDATION, "subject",
                          "give subject=ID, or from and to (RFC 3339 times)");
    else if (q->ranged && (from == NULL || !cpm_time_parse(from, &q->from_ms)))
        cpm_respond_error(req, CPM_ERR_VALIDATION, "from",
                          "must be an RFC 3339 time (2026-01-01T00:00:00+08:00), given with to");
    else if (q->ranged && (to == NULL || !cpm_time_parse(to, &q->to_ms)))
        cpm_respond_error(req, CPM_ERR_VALIDATION, "to",
                          "must be an RFC 3339 time (2026-04-01T00:00:00+08:00), given with from");
    else if (q->ranged && q->from_ms >= q->to_ms)
        cpm_respond_error(req, CPM_ERR_VALIDATION, "to", "must be after from");
    else if (prior != NULL && !cpm_parse_int64(prior, 1, INT64_MAX, &q->prior_size))
        cpm_respond_error(req, CPM_ERR_VALIDATION, "prior_size",
                          "must be the tree size of a signed checkpoint (1 or more)");
    else
        return true;
    return false;
}

/* The answer's body reader: the temporary file, from pos. */
static ssize_t pack_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    ssize_t n;
    do
        n = pread(fileno(cls), buf, max, (off_t)pos);
    while (n < 0 && errno == EINTR);
    return n > 0 ? n : CPM_BODY_READER_ERROR;
}

static void pack_close(void *cls)
{
    fclose(cls);
}

static FILE *temp_stream(struct cpm_request *req)
{
    int fd = cpm_temp_file_open();
    FILE *f = fd >= 0 ? fdopen(fd, "w+b") : NULL;
    if (f == NULL) {
        cpm_log(CPM_LOG_ERROR, "evidence", req->request_id, NULL,
                "cannot open a temporary file in $TMPDIR or /tmp: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    return f;
}

void cpm_api_evidence_packs_get(struct cpm_request *req)
{
    struct cpm_evidence_pack_query q;
    if (!parse_query(req, &q))
        return;
    FILE *f = temp_stream(req);
    if (f == NULL) {
        cpm_respond_error(req, CPM_ERR_IO, NULL, "the pack could not be written");
        return;
    }
    struct cpm_evidence_pack_source src = {.store = req->app->store,
                                           .nodes = cpm_node_cache_get,
                                           .nodes_ctx = req->app->nodes,
                                           .vkey = req->app->vkey,
                                           .generator = "cpmd"};
    struct cpm_evidence_pack_result result;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    cpm_err err = cpm_evidence_pack_write(&src, &q, f, &result, &detail);
    off_t size = err == CPM_OK ? ftello(f) : -1;
    if (err == CPM_OK && size < 0)
        err = CPM_ERR_IO;
    if (err != CPM_OK) {
        fclose(f);
        cpm_respond_problem(req, err, &detail);
        return;
    }
    char disposition[96];
    snprintf(disposition, sizeof(disposition),
             "attachment; filename=\"opencpm-evidence-pack-%llu.tar\"",
             (unsigned long long)result.tree_size);
    cpm_respond_reader(req, 200, TAR_TYPE, (uint64_t)size, pack_read, f, pack_close);
    cpm_respond_header(req, "Content-Disposition", disposition);
}
