/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reports.c — the dashboard's numbers (docs/REPORTS.md), ledger:read:
 *
 *   GET /v1/reports/consents     decisions per day, purpose, property, channel or region
 *   GET /v1/reports/opt-in       given ÷ (given + refused) per purpose per day
 *   GET /v1/reports/withdrawals  withdrawals per day and per purpose
 *   GET /v1/reports/sync         per destination: the live lag, outcomes per day
 *
 * Every answer is read from the counts the store keeps beside the events
 * (report_consents, report_deliveries: src/store/sqlite_reports.c), never
 * by reading the events, so a year's report costs the same whatever the
 * ledger's size. Days are Asia/Shanghai calendar days; a range is from/to
 * (both inclusive, YYYY-MM-DD), the last 30 days when left out, at most
 * CPM_REPORT_DAYS_MAX days. Every fault of the query is answered at once
 * as a 422 naming its parameter.
 */
#include "core/common.h"

#include <stdlib.h>

#include "api/api.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "domain/report.h"
#include "http/app.h"
#include "store/writer.h"
#include "sync/dispatcher.h"

#define DEFAULT_DAYS      30
#define DESTINATIONS_MAX  1000 /* configured destinations a sync report lists */
#define DESTINATIONS_PAGE 200

static const char *const groups[] = {"day", "purpose", "property", "channel", "region", NULL};
static const unsigned group_bits[] = {CPM_REPORT_BY_DAY, CPM_REPORT_BY_PURPOSE,
                                      CPM_REPORT_BY_PROPERTY, CPM_REPORT_BY_CHANNEL,
                                      CPM_REPORT_BY_REGION};
static const char *const outcomes[] = {"delivered", "failed", "dead", "blocked", NULL};

/* A report's range and filters, as asked. */
struct range {
    struct cpm_report_query q;
    int64_t from, to; /* day numbers, inclusive */
    size_t days;
};

/* An optional id parameter: absent, or a valid id (else a fault). */
static const char *id_param(struct cpm_request *req, const char *name, struct cpm_detail *d)
{
    const char *v = cpm_request_query(req, name);
    if (v != NULL && !cpm_config_id_valid(v))
        cpm_detail_add(d, name, "must be an id: 1-%d characters of a-z, 0-9, '.', '_', '-'",
                       CPM_ID_BYTES_MAX);
    return v;
}

/* Reads from, to, purpose, property (and destination); adds every fault to d. */
static void parse_range(struct cpm_request *req, struct range *r, struct cpm_detail *d)
{
    const char *from = cpm_request_query(req, "from");
    const char *to = cpm_request_query(req, "to");
    memset(r, 0, sizeof(*r));
    r->to = cpm_report_day_of(cpm_clock_now_ms());
    bool to_ok = to == NULL || cpm_report_day_parse(to, &r->to);
    if (!to_ok)
        cpm_detail_add(d, "to", "must be a date YYYY-MM-DD (a day in %s)", CPM_REPORT_TIME_ZONE);
    r->from = r->to - (DEFAULT_DAYS - 1);
    bool from_ok = from == NULL || cpm_report_day_parse(from, &r->from);
    if (!from_ok)
        cpm_detail_add(d, "from", "must be a date YYYY-MM-DD (a day in %s)", CPM_REPORT_TIME_ZONE);
    if (from_ok && to_ok && r->from > r->to)
        cpm_detail_add(d, "from", "must not be after to");
    else if (from_ok && to_ok && r->to - r->from + 1 > CPM_REPORT_DAYS_MAX)
        cpm_detail_add(d, "to", "the range holds %lld days; at most %d",
                       (long long)(r->to - r->from + 1), CPM_REPORT_DAYS_MAX);
    r->q.purpose = id_param(req, "purpose", d);
    r->q.property = id_param(req, "property", d);
    r->q.rows_max = CPM_REPORT_ROWS_MAX;
    if (d->count == 0) {
        cpm_report_day_text(r->from, r->q.from_day);
        cpm_report_day_text(r->to, r->q.to_day);
        r->days = (size_t)(r->to - r->from + 1);
    }
}

/* The answer's head: the range, the time zone, the filters. Owned. */
static json_t *head(const struct range *r)
{
    return json_pack("{s:s, s:s, s:s, s:{s:s?, s:s?}}", "from", r->q.from_day, "to", r->q.to_day,
                     "time_zone", CPM_REPORT_TIME_ZONE, "filters", "purpose", r->q.purpose,
                     "property", r->q.property);
}

/* The rows a report read, kept to be arranged. */
struct collected {
    struct cpm_report_row *rows;
    size_t count, cap;
};

static cpm_err collect(void *ctx, const struct cpm_report_row *row)
{
    struct collected *c = ctx;
    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct cpm_report_row *grown = cpm_realloc(c->rows, cap * sizeof(*grown));
        if (grown == NULL)
            return CPM_ERR_NOMEM;
        c->rows = grown;
        c->cap = cap;
    }
    c->rows[c->count++] = *row;
    return CPM_OK;
}

/* Reads the consent counts grouped by group; false when it answered the failure. */
static bool read_rows(struct cpm_request *req, struct range *r, unsigned group,
                      struct collected *out)
{
    struct cpm_store *store = req->app->store;
    r->q.group = group;
    cpm_err err = store->ops->report_consents(store, &r->q, collect, out);
    if (err == CPM_ERR_TOO_LARGE)
        cpm_respond_error(req, CPM_ERR_VALIDATION, "to",
                          "the report would have over %d rows: shorten the range or filter "
                          "by purpose or property",
                          CPM_REPORT_ROWS_MAX);
    else if (err != CPM_OK)
        cpm_respond_error(req, err, NULL, "cannot read the report's counts");
    if (err != CPM_OK) {
        cpm_free(out->rows);
        out->rows = NULL;
    }
    return err == CPM_OK;
}

/* The index of a day text in the range (rows are inside it). */
static size_t day_index(const struct range *r, const char *day)
{
    int64_t n = r->from;
    bool ok = cpm_report_day_parse(day, &n);
    CPM_ASSERT(ok && n >= r->from && n <= r->to);
    return (size_t)(n - r->from);
}

/* One group's counts: {key, given: 0, …, total: 0}. */
static json_t *zero_counts(const char *key_name, const char *key)
{
    json_t *o = json_pack("{s:s}", key_name, key);
    for (size_t i = 0; o != NULL && cpm_report_decisions[i] != NULL; i++)
        json_object_set_new(o, cpm_report_decisions[i], json_integer(0));
    if (o != NULL)
        json_object_set_new(o, "total", json_integer(0));
    return o;
}

static void add_count(json_t *o, const char *name, int64_t n)
{
    json_t *v = json_object_get(o, name);
    if (v != NULL)
        json_integer_set(v, json_integer_value(v) + n);
}

static const char *group_key(const struct cpm_report_row *row, unsigned group)
{
    switch (group) {
    case CPM_REPORT_BY_DAY:
        return row->day;
    case CPM_REPORT_BY_PURPOSE:
        return row->purpose;
    case CPM_REPORT_BY_PROPERTY:
        return row->property;
    case CPM_REPORT_BY_CHANNEL:
        return row->channel;
    default:
        return row->region;
    }
}

void cpm_api_reports_consents(struct cpm_request *req)
{
    struct cpm_detail detail;
    struct range r;
    cpm_detail_init(&detail);
    parse_range(req, &r, &detail);
    const char *by = cpm_request_query(req, "group_by");
    unsigned group = 0;
    const char *group_name = by != NULL ? by : "day";
    for (size_t i = 0; groups[i] != NULL; i++)
        if (strcmp(group_name, groups[i]) == 0)
            group = group_bits[i];
    if (group == 0)
        cpm_detail_add(&detail, "group_by",
                       "must be one of: day, purpose, property, channel, region");
    if (detail.count > 0) {
        cpm_respond_problem(req, CPM_ERR_VALIDATION, &detail);
        return;
    }
    struct collected c = {0};
    if (!read_rows(req, &r, group, &c))
        return;
    json_t *answer = head(&r), *series = json_array(), *totals = zero_counts("key", "");
    json_t *last = NULL;
    for (size_t i = 0; group == CPM_REPORT_BY_DAY && i < r.days; i++) {
        char day[CPM_REPORT_DAY_BYTES];
        cpm_report_day_text(r.from + (int64_t)i, day);
        json_array_append_new(series, zero_counts("key", day));
    }
    for (size_t i = 0; series != NULL && i < c.count; i++) {
        const struct cpm_report_row *row = &c.rows[i];
        const char *key = group_key(row, group);
        json_t *o;
        if (group == CPM_REPORT_BY_DAY) {
            o = json_array_get(series, day_index(&r, row->day));
        } else if (last != NULL &&
                   strcmp(json_string_value(json_object_get(last, "key")), key) == 0) {
            o = last;
        } else {
            o = last = zero_counts("key", key);
            json_array_append_new(series, o);
        }
        add_count(o, row->decision, row->count);
        add_count(o, "total", row->count);
        add_count(totals, row->decision, row->count);
        add_count(totals, "total", row->count);
    }
    cpm_free(c.rows);
    json_object_del(totals, "key");
    if (answer != NULL && series != NULL && totals != NULL) {
        json_object_set_new(answer, "group_by", json_string(group_name));
        json_object_set_new(answer, "series", series);
        json_object_set_new(answer, "totals", totals);
        cpm_respond_json(req, 200, answer);
        return;
    }
    json_decref(answer);
    json_decref(series);
    json_decref(totals);
    cpm_respond_error(req, CPM_ERR_NOMEM, NULL, "out of memory");
}

/* Opt-in rows by purpose, then day. */
static int by_purpose_day(const void *a, const void *b)
{
    const struct cpm_report_row *x = a, *y = b;
    int c = strcmp(x->purpose, y->purpose);
    return c != 0 ? c : strcmp(x->day, y->day);
}

/* given ÷ (given + refused), or null when neither. */
static json_t *rate(json_int_t given, json_int_t refused)
{
    return given + refused > 0 ? json_real((double)given / (double)(given + refused)) : json_null();
}

/* Sets each day's and the purpose's rate of a finished purpose entry. */
static void finish_purpose(json_t *p)
{
    json_t *days = json_object_get(p, "days"), *day;
    size_t i;
    json_int_t given = 0, refused = 0;
    json_array_foreach(days, i, day)
    {
        json_int_t g = json_integer_value(json_object_get(day, "given"));
        json_int_t f = json_integer_value(json_object_get(day, "refused"));
        json_object_set_new(day, "rate", rate(g, f));
        given += g;
        refused += f;
    }
    json_object_set_new(p, "given", json_integer(given));
    json_object_set_new(p, "refused", json_integer(refused));
    json_object_set_new(p, "rate", rate(given, refused));
}

static json_t *purpose_entry(const struct range *r, const char *purpose)
{
    json_t *days = json_array();
    for (size_t i = 0; days != NULL && i < r->days; i++) {
        char day[CPM_REPORT_DAY_BYTES];
        cpm_report_day_text(r->from + (int64_t)i, day);
        json_array_append_new(days,
                              json_pack("{s:s, s:i, s:i}", "day", day, "given", 0, "refused", 0));
    }
    return days ? json_pack("{s:s, s:o}", "purpose", purpose, "days", days) : NULL;
}

/* The range of a report that takes no other parameter; false when answered 422. */
static bool range_only(struct cpm_request *req, struct range *r)
{
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    parse_range(req, r, &detail);
    if (detail.count == 0)
        return true;
    cpm_respond_problem(req, CPM_ERR_VALIDATION, &detail);
    return false;
}

void cpm_api_reports_opt_in(struct cpm_request *req)
{
    struct range r;
    if (!range_only(req, &r))
        return;
    struct collected c = {0};
    if (!read_rows(req, &r, CPM_REPORT_BY_DAY | CPM_REPORT_BY_PURPOSE, &c))
        return;
    if (c.count > 1)
        qsort(c.rows, c.count, sizeof(*c.rows), by_purpose_day);
    json_t *answer = head(&r), *purposes = json_array(), *p = NULL;
    for (size_t i = 0; purposes != NULL && i < c.count; i++) {
        const struct cpm_report_row *row = &c.rows[i];
        bool given = strcmp(row->decision, "given") == 0;
        if (!given && strcmp(row->decision, "refused") != 0)
            continue; /* the rate is of answers to the question: given or refused */
        if (p == NULL ||
            strcmp(json_string_value(json_object_get(p, "purpose")), row->purpose) != 0) {
            p = purpose_entry(&r, row->purpose);
            json_array_append_new(purposes, p);
        }
        json_t *day = json_array_get(json_object_get(p, "days"), day_index(&r, row->day));
        add_count(day, row->decision, row->count);
    }
    cpm_free(c.rows);
    size_t i;
    json_array_foreach(purposes, i, p) finish_purpose(p);
    if (answer != NULL && purposes != NULL) {
        json_object_set_new(answer, "purposes", purposes);
        cpm_respond_json(req, 200, answer);
        return;
    }
    json_decref(answer);
    json_decref(purposes);
    cpm_respond_error(req, CPM_ERR_NOMEM, NULL, "out of memory");
}

void cpm_api_reports_withdrawals(struct cpm_request *req)
{
    struct range r;
    if (!range_only(req, &r))
        return;
    struct collected by_day = {0}, by_purpose = {0};
    if (!read_rows(req, &r, CPM_REPORT_BY_DAY, &by_day))
        return;
    if (!read_rows(req, &r, CPM_REPORT_BY_PURPOSE, &by_purpose)) {
        cpm_free(by_day.rows);
        return;
    }
    json_t *answer = head(&r), *days = json_array(), *purposes = json_array();
    json_int_t total = 0;
    for (size_t i = 0; days != NULL && i < r.days; i++) {
        char day[CPM_REPORT_DAY_BYTES];
        cpm_report_day_text(r.from + (int64_t)i, day);
        json_array_append_new(days, json_pack("{s:s, s:i}", "day", day, "withdrawn", 0));
    }
    for (size_t i = 0; days != NULL && i < by_day.count; i++) {
        const struct cpm_report_row *row = &by_day.rows[i];
        if (strcmp(row->decision, "withdrawn") != 0)
            continue;
        add_count(json_array_get(days, day_index(&r, row->day)), "withdrawn", row->count);
        total += row->count;
    }
    for (size_t i = 0; purposes != NULL && i < by_purpose.count; i++) {
        const struct cpm_report_row *row = &by_purpose.rows[i];
        if (strcmp(row->decision, "withdrawn") == 0)
            json_array_append_new(purposes, json_pack("{s:s, s:I}", "purpose", row->purpose,
                                                      "withdrawn", (json_int_t)row->count));
    }
    cpm_free(by_day.rows);
    cpm_free(by_purpose.rows);
    if (answer != NULL && days != NULL && purposes != NULL) {
        json_object_set_new(answer, "days", days);
        json_object_set_new(answer, "by_purpose", purposes);
        json_object_set_new(answer, "total", json_integer(total));
        cpm_respond_json(req, 200, answer);
        return;
    }
    json_decref(answer);
    json_decref(days);
    json_decref(purposes);
    cpm_respond_error(req, CPM_ERR_NOMEM, NULL, "out of memory");
}

/* ---- sync ------------------------------------------------------------------------ */

struct sync_report {
    struct cpm_request *req;
    const struct range *r;
    json_t *by_id;                    /* destination id → its entry */
    char after[CPM_ID_BYTES_MAX + 1]; /* the last configured destination listed */
    int page_count;
};

/* The entry of destination id, made on first sight with a zero for every day. */
static json_t *destination_entry(struct sync_report *s, const char *id, bool configured)
{
    json_t *d = json_object_get(s->by_id, id);
    if (d != NULL) {
        if (configured)
            json_object_set_new(d, "configured", json_true());
        return d;
    }
    json_t *days = json_array(), *totals = json_object();
    for (size_t i = 0; days != NULL && i < s->r->days; i++) {
        char day[CPM_REPORT_DAY_BYTES];
        cpm_report_day_text(s->r->from + (int64_t)i, day);
        json_t *o = json_pack("{s:s}", "day", day);
        for (size_t k = 0; o != NULL && outcomes[k] != NULL; k++)
            json_object_set_new(o, outcomes[k], json_integer(0));
        if (o != NULL) {
            json_object_set_new(o, "lag_ms_avg", json_null());
            json_object_set_new(o, "lag_ms_max", json_null());
        }
        json_array_append_new(days, o);
    }
    for (size_t k = 0; totals != NULL && outcomes[k] != NULL; k++)
        json_object_set_new(totals, outcomes[k], json_integer(0));
    d = json_pack("{s:s, s:b, s:o*, s:o*}", "id", id, "configured", configured, "days", days,
                  "totals", totals);
    if (d != NULL)
        json_object_set_new(s->by_id, id, d);
    return d;
}

static cpm_err configured_visit(void *ctx, const struct cpm_doc *doc)
{
    struct sync_report *s = ctx;
    cpm_strlcpy(s->after, doc->id, sizeof(s->after));
    s->page_count++;
    return destination_entry(s, doc->id, true) != NULL ? CPM_OK : CPM_ERR_NOMEM;
}

static cpm_err delivery_visit(void *ctx, const struct cpm_report_delivery_row *row)
{
    struct sync_report *s = ctx;
    json_t *d = destination_entry(s, row->destination_id, false);
    if (d == NULL)
        return CPM_ERR_NOMEM;
    json_t *day = json_array_get(json_object_get(d, "days"), day_index(s->r, row->day));
    add_count(day, row->outcome, row->count);
    add_count(json_object_get(d, "totals"), row->outcome, row->count);
    if (strcmp(row->outcome, "delivered") == 0 && row->count > 0) {
        json_object_set_new(day, "lag_ms_avg", json_integer(row->lag_ms_sum / row->count));
        json_object_set_new(day, "lag_ms_max", json_integer(row->lag_ms_max));
    }
    return CPM_OK;
}

/* The live figures of a destination's worker, or null when it has none running. */
static json_t *live(struct cpm_request *req, const char *id)
{
    struct cpm_destination_status st;
    if (req->app->dispatcher == NULL || !cpm_dispatcher_status(req->app->dispatcher, id, &st))
        return json_null();
    uint64_t size;
    uint8_t root[CPM_HASH_BYTES];
    cpm_writer_head(req->app->writer, &size, root);
    int64_t lag = (int64_t)size > st.cursor_seq ? (int64_t)size - st.cursor_seq : 0;
    return json_pack("{s:I, s:I, s:I}", "lag_events", (json_int_t)lag, "cursor_seq",
                     (json_int_t)st.cursor_seq, "queued", (json_int_t)st.queued);
}

static int by_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The entries, by id, each with its live figures. Owned; NULL on out of memory. */
static json_t *destinations_sorted(struct cpm_request *req, json_t *by_id_map)
{
    size_t n = json_object_size(by_id_map), i = 0;
    const char **ids = cpm_calloc(n ? n : 1, sizeof(*ids));
    json_t *out = json_array();
    const char *key;
    json_t *value;
    if (ids == NULL || out == NULL) {
        cpm_free(ids);
        json_decref(out);
        return NULL;
    }
    json_object_foreach(by_id_map, key, value) ids[i++] = key;
    qsort(ids, n, sizeof(*ids), by_id);
    for (i = 0; i < n; i++) {
        json_t *d = json_object_get(by_id_map, ids[i]);
        json_object_set_new(d, "live", live(req, ids[i]));
        json_array_append(out, d);
    }
    cpm_free(ids);
    return out;
}

void cpm_api_reports_sync(struct cpm_request *req)
{
    struct cpm_detail detail;
    struct range r;
    cpm_detail_init(&detail);
    parse_range(req, &r, &detail);
    if (r.q.purpose != NULL || r.q.property != NULL)
        cpm_detail_add(&detail, r.q.purpose != NULL ? "purpose" : "property",
                       "is not a filter of the sync report (destination is)");
    r.q.destination_id = id_param(req, "destination", &detail);
    if (detail.count > 0) {
        cpm_respond_problem(req, CPM_ERR_VALIDATION, &detail);
        return;
    }
    struct cpm_store *store = req->app->store;
    struct sync_report s = {.req = req, .r = &r, .by_id = json_object()};
    cpm_err err = s.by_id ? CPM_OK : CPM_ERR_NOMEM;
    if (r.q.destination_id == NULL) { /* every configured one, page by page */
        do {
            s.page_count = 0;
            err = store->ops->doc_list(store, CPM_DOC_DESTINATION, s.after[0] ? s.after : NULL,
                                       DESTINATIONS_PAGE, configured_visit, &s);
        } while (err == CPM_OK && s.page_count == DESTINATIONS_PAGE &&
                 json_object_size(s.by_id) < DESTINATIONS_MAX);
    } else {
        struct cpm_doc doc;
        cpm_err found = store->ops->doc_get(store, CPM_DOC_DESTINATION, r.q.destination_id, &doc);
        if (found == CPM_OK) {
            cpm_doc_release(&doc);
            err = destination_entry(&s, r.q.destination_id, true) ? CPM_OK : CPM_ERR_NOMEM;
        } else if (found != CPM_ERR_NOT_FOUND) {
            err = found;
        }
    }
    if (err == CPM_OK)
        err = store->ops->report_deliveries(store, &r.q, delivery_visit, &s);
    json_t *answer = err == CPM_OK ? head(&r) : NULL;
    json_t *list = err == CPM_OK ? destinations_sorted(req, s.by_id) : NULL;
    json_decref(s.by_id);
    if (answer != NULL && list != NULL) {
        json_object_del(json_object_get(answer, "filters"), "purpose");
        json_object_del(json_object_get(answer, "filters"), "property");
        json_object_set_new(json_object_get(answer, "filters"), "destination",
                            r.q.destination_id ? json_string(r.q.destination_id) : json_null());
        json_object_set_new(answer, "destinations", list);
        cpm_respond_json(req, 200, answer);
        return;
    }
    json_decref(answer);
    json_decref(list);
    if (err == CPM_ERR_TOO_LARGE)
        cpm_respond_error(req, CPM_ERR_VALIDATION, "to",
                          "the report would have over %d rows: shorten the range or name a "
                          "destination",
                          CPM_REPORT_ROWS_MAX);
    else
        cpm_respond_error(req, err == CPM_OK ? CPM_ERR_NOMEM : err, NULL,
                          "cannot read the report's counts");
}
