/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evidence_pack.c — `cpm evidence-pack`: an evidence pack straight from a
 * data directory, for operators without the API (the same pack as
 * GET /v1/evidence-packs; docs/EVIDENCE-PACKS.md). It only reads the
 * store, so it is safe while cpmd runs. The pack is written beside OUT
 * and renamed into place once complete: a failed run leaves nothing.
 *
 *   cpm evidence-pack --subject ID [--from T --to T] -o PACK [options]
 *   cpm evidence-pack --from T --to T -o PACK [options]
 */
#include "core/common.h"

#include <unistd.h>

#include "cli/cli.h"
#include "cli/verify.h"
#include "core/clock.h"
#include "domain/subject.h"
#include "store/evidence_pack.h"
#include "store/node_cache.h"

#define COMMAND "evidence-pack"

struct options {
    const char *data, *subject, *from, *to, *out, *prior, *events_max;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cpm evidence-pack --subject ID [--from T --to T] -o PACK [options]\n"
            "       cpm evidence-pack --from T --to T -o PACK [options]\n\n"
            "Writes an evidence pack (a tar archive) of a subject's events, or of every\n"
            "event recorded from T (inclusive) to T (exclusive), T in RFC 3339\n"
            "(2026-01-01T00:00:00+08:00). Check it with `cpm verify PACK --key VKEY`.\n\n"
            "options:\n"
            "  --data DIR            data directory (default $CPM_DATA, else ./data)\n"
            "  --prior-size N        add a consistency proof from the signed checkpoint of size N\n"
            "  --events-max N        refuse packs of more events (default %d, at most %d)\n",
            CPM_EVIDENCE_PACK_EVENTS_MAX_DEFAULT, CPM_EVIDENCE_PACK_EVENTS_MAX_MAX);
}

static bool parse_args(int argc, char **argv, struct options *o)
{
    bool bad = false;
    for (int i = 1; i < argc && !bad; i++) {
        if (cpm_cli_flag(argc, argv, &i, "--data", &o->data, &bad) ||
            cpm_cli_flag(argc, argv, &i, "--subject", &o->subject, &bad) ||
            cpm_cli_flag(argc, argv, &i, "--from", &o->from, &bad) ||
            cpm_cli_flag(argc, argv, &i, "--to", &o->to, &bad) ||
            cpm_cli_flag(argc, argv, &i, "--prior-size", &o->prior, &bad) ||
            cpm_cli_flag(argc, argv, &i, "--events-max", &o->events_max, &bad) ||
            cpm_cli_flag(argc, argv, &i, "-o", &o->out, &bad) ||
            cpm_cli_flag(argc, argv, &i, "--output", &o->out, &bad))
            continue;
        fprintf(stderr, "cpm %s: unknown argument '%s'\n", COMMAND, argv[i]);
        bad = true;
    }
    return !bad;
}

/* The query from the options; false (a usage error, reported) when they do not make one. */
static bool make_query(const struct options *o, struct cpm_evidence_pack_query *q)
{
    const char *why = NULL;
    *q = (struct cpm_evidence_pack_query){.subject_id = o->subject,
                                          .ranged = o->from != NULL || o->to != NULL,
                                          .events_max = CPM_EVIDENCE_PACK_EVENTS_MAX_DEFAULT};
    if (o->out == NULL)
        why = "-o PACK is required";
    else if (o->subject == NULL && !q->ranged)
        why = "give --subject ID, or --from T and --to T";
    else if (o->subject != NULL && !cpm_subject_id_valid(o->subject))
        why = "--subject: not a subject id (1-128 printable characters, no space or '/')";
    else if (q->ranged && (o->from == NULL || o->to == NULL))
        why = "--from and --to go together";
    else if (q->ranged &&
             (!cpm_time_parse(o->from, &q->from_ms) || !cpm_time_parse(o->to, &q->to_ms)))
        why = "--from and --to must be RFC 3339 times (2026-01-01T00:00:00Z)";
    else if (q->ranged && q->from_ms >= q->to_ms)
        why = "--from must be before --to";
    else if (o->prior != NULL && !cpm_parse_int64(o->prior, 1, INT64_MAX, &q->prior_size))
        why = "--prior-size must be a checkpoint's tree size (1 or more)";
    else if (o->events_max != NULL &&
             !cpm_parse_int64(o->events_max, CPM_EVIDENCE_PACK_EVENTS_MAX_MIN,
                              CPM_EVIDENCE_PACK_EVENTS_MAX_MAX, &q->events_max))
        why = "--events-max must be a whole number from " CPM_STRINGIFY(
            CPM_EVIDENCE_PACK_EVENTS_MAX_MIN) " to " CPM_STRINGIFY(CPM_EVIDENCE_PACK_EVENTS_MAX_MAX);
    if (why != NULL)
        fprintf(stderr, "cpm %s: %s\n", COMMAND, why);
    return why == NULL;
}

/* A new file beside out ("OUT.partial-XXXXXX"), its name in tmp; NULL (reported) on failure. */
static FILE *open_partial(const char *out, char *tmp, size_t cap)
{
    int fd = -1;
    if ((size_t)snprintf(tmp, cap, "%s.partial-XXXXXX", out) < cap)
        fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w+b") : NULL;
    if (f == NULL) {
        fprintf(stderr, "cpm %s: cannot write beside %s: %s\n", COMMAND, out, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
    }
    return f;
}

static void print_result(const struct options *o, const struct cpm_evidence_pack_result *r)
{
    printf("wrote %s: %lld events", o->out, (long long)r->events);
    if (o->subject != NULL)
        printf(" of subject %s", o->subject);
    if (o->from != NULL)
        printf(" recorded from %s to %s", o->from, o->to);
    printf(", %lld delivery log rows, %lld notice versions; anchored to the signed checkpoint of "
           "tree size %llu\n",
           (long long)r->deliveries, (long long)r->notices, (unsigned long long)r->tree_size);
    if (r->pending > 0)
        printf("note: %lld matching events are newer than that checkpoint and not in the pack\n",
               (long long)r->pending);
}

/* Builds the pack into f from the store of data; reports a failure. */
static int build(const struct options *o, const struct cpm_evidence_pack_query *q, FILE *f,
                 struct cpm_evidence_pack_result *result)
{
    char origin[CPM_ORIGIN_BYTES_MAX], vkey[CPM_VKEY_BYTES_MAX];
    const char *data = cpm_cli_data_dir(o->data);
    if (!cpm__verify_data_vkey(COMMAND, data, origin, vkey))
        return CPM_EXIT_FAILURE;
    struct cpm_store *store = cpm_cli_open_store(COMMAND, data);
    struct cpm_node_cache *nodes = NULL;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    cpm_err err = store != NULL ? cpm_node_cache_new(store, &nodes) : CPM_ERR_STORE;
    if (err == CPM_OK) {
        struct cpm_evidence_pack_source src = {.store = store,
                                               .nodes = cpm_node_cache_get,
                                               .nodes_ctx = nodes,
                                               .vkey = vkey,
                                               .generator = "cpm evidence-pack"};
        err = cpm_evidence_pack_write(&src, q, f, result, &detail);
        if (err != CPM_OK)
            cpm_cli_report(COMMAND, err, &detail);
    }
    cpm_node_cache_free(nodes);
    cpm_store_close(store);
    return err == CPM_OK ? CPM_EXIT_OK : CPM_EXIT_FAILURE;
}

int cpm_cli_evidence_pack(int argc, char **argv)
{
    struct options o = {0};
    struct cpm_evidence_pack_query q;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return CPM_EXIT_OK;
        }
    if (!parse_args(argc, argv, &o) || !make_query(&o, &q)) {
        usage(stderr);
        return CPM_EXIT_USAGE;
    }
    char tmp[4096];
    FILE *f = open_partial(o.out, tmp, sizeof(tmp));
    if (f == NULL)
        return CPM_EXIT_FAILURE;
    struct cpm_evidence_pack_result result;
    int status = build(&o, &q, f, &result);
    if (fclose(f) != 0 && status == CPM_EXIT_OK) {
        fprintf(stderr, "cpm %s: cannot write %s: %s\n", COMMAND, tmp, strerror(errno));
        status = CPM_EXIT_FAILURE;
    }
    if (status == CPM_EXIT_OK && rename(tmp, o.out) != 0) {
        fprintf(stderr, "cpm %s: cannot rename %s to %s: %s\n", COMMAND, tmp, o.out,
                strerror(errno));
        status = CPM_EXIT_FAILURE;
    }
    if (status != CPM_EXIT_OK)
        unlink(tmp);
    else
        print_result(&o, &result);
    return status;
}
