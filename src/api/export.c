/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export.c — GET /v1/export/events and /v1/export/state (scope `export`):
 * the ledger's events in a seq range, or every current consent state, as
 * NDJSON or CSV, streamed (chunked) as store/export.c renders them page by
 * page, so cpmd's memory stays one page whatever the size. An events export
 * ends at the head committed when it was asked for. docs/IMPORT-EXPORT.md.
 */
#include "core/common.h"

#include "api/api.h"
#include "core/log.h"
#include "http/app.h"
#include "http/request.h"
#include "store/export.h"
#include "store/writer.h"

/* The answer's body, as MHD asks for it (cpm_body_reader_fn). */
static ssize_t export_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    CPM_UNUSED(pos);
    size_t len = 0;
    cpm_err err = cpm_export_read(cls, buf, max, &len);
    if (err != CPM_OK) {
        cpm_log_error("export", "the export stopped after %llu rows: %s",
                      (unsigned long long)cpm_export_rows(cls), cpm_err_message(err));
        return CPM_BODY_READER_ERROR; /* the connection closes: the client sees a cut body */
    }
    return len > 0 ? (ssize_t)len : CPM_BODY_READER_END;
}

static void export_free(void *cls)
{
    cpm_export_free(cls);
}

/* ?format=ndjson|csv (ndjson when absent); false when it is neither (answered). */
static bool read_format(struct cpm_request *req, enum cpm_export_format *format)
{
    const char *text = cpm_request_query(req, "format");
    *format = CPM_EXPORT_NDJSON;
    if (text == NULL || cpm_export_format_parse(text, format))
        return true;
    cpm_respond_error(req, CPM_ERR_VALIDATION, "format", "must be ndjson or csv");
    return false;
}

/* A seq query parameter: absent keeps *out; false when it is not an integer from 1 (answered). */
static bool read_seq(struct cpm_request *req, const char *name, int64_t *out)
{
    const char *text = cpm_request_query(req, name);
    if (text == NULL || cpm_parse_int64(text, 1, INT64_MAX, out))
        return true;
    cpm_respond_error(req, CPM_ERR_VALIDATION, name, "must be an integer from 1");
    return false;
}

static void stream(struct cpm_request *req, const struct cpm_export_options *o, const char *file)
{
    struct cpm_export *x = cpm_export_new(req->app->store, o);
    if (x == NULL) {
        cpm_respond_error(req, CPM_ERR_NOMEM, NULL, "out of memory");
        return;
    }
    char disposition[64];
    snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s.%s\"", file,
             o->format == CPM_EXPORT_CSV ? "csv" : "ndjson");
    cpm_respond_reader(req, 200, cpm_export_content_type(o->format), CPM_BODY_LENGTH_UNKNOWN,
                       export_read, x, export_free);
    cpm_respond_header(req, "Content-Disposition", disposition);
}

void cpm_api_export_events(struct cpm_request *req)
{
    uint64_t head = 0;
    uint8_t root[CPM_HASH_BYTES];
    cpm_writer_head(req->app->writer, &head, root);
    struct cpm_export_options o = {
        .kind = CPM_EXPORT_EVENTS, .from_seq = 1, .to_seq = (int64_t)head};
    if (!read_format(req, &o.format) || !read_seq(req, "from_seq", &o.from_seq) ||
        !read_seq(req, "to_seq", &o.to_seq))
        return;
    if (cpm_request_query(req, "to_seq") != NULL && o.to_seq < o.from_seq) {
        cpm_respond_error(req, CPM_ERR_VALIDATION, "to_seq", "must not be before from_seq (%lld)",
                          (long long)o.from_seq);
        return;
    }
    if (o.to_seq > (int64_t)head) /* the ledger's end when asked: the export ends */
        o.to_seq = (int64_t)head;
    stream(req, &o, "events");
}

void cpm_api_export_state(struct cpm_request *req)
{
    struct cpm_export_options o = {.kind = CPM_EXPORT_STATE};
    if (read_format(req, &o.format))
        stream(req, &o, "state");
}
