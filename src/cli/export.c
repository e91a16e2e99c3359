/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export.c — `cpm export events|state`: the ledger's events (a seq range)
 * or the current consent state per subject and purpose, as NDJSON or CSV
 * on stdout, read page by page from the store opened read only, so it is
 * safe beside a running cpmd and its memory does not grow with the store.
 * The same rendering as GET /v1/export/… (store/export.c); what an export
 * holds is in docs/IMPORT-EXPORT.md.
 */
#include "core/common.h"

#include <unistd.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "store/export.h"

#define OUT_BYTES (256 * 1024)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cpm export events [--data DIR] [--format ndjson|csv] [--from-seq N] "
            "[--to-seq N]\n"
            "                         [--immutable] [--progress]\n"
            "       cpm export state  [--data DIR] [--format ndjson|csv] [--immutable] "
            "[--progress]\n\n"
            "Writes the ledger's events (from-seq to to-seq, both included; by default all of\n"
            "them up to the head when it starts) or the current consent state of every subject\n"
            "and purpose to standard output. The store is opened read only: safe while cpmd\n"
            "runs. --immutable is for a copy nobody writes (a backup, read-only media): no\n"
            "locks, no WAL files. Progress goes to stderr on a terminal or with --progress.\n");
}

struct export_args {
    const char *data;
    struct cpm_export_options o;
    bool immutable, progress, to_given;
};

/* A --from-seq/--to-seq value; false (reported) when it is not an integer from 1. */
static bool seq_value(const char *flag, const char *text, int64_t *out)
{
    if (cpm_parse_int64(text, 1, INT64_MAX, out))
        return true;
    fprintf(stderr, "cpm export: %s must be an integer from 1\n", flag);
    return false;
}

/* Parses argv[2…] (after "export KIND"); false on a usage error (reported). */
static bool parse(int argc, char **argv, struct export_args *a)
{
    bool bad = false;
    for (int i = 2; i < argc && !bad; i++) {
        const char *format = NULL, *from = NULL, *to = NULL;
        if (cpm_cli_flag(argc, argv, &i, "--data", &a->data, &bad))
            continue;
        if (cpm_cli_flag(argc, argv, &i, "--format", &format, &bad))
            bad = bad || !cpm_export_format_parse(format, &a->o.format);
        else if (cpm_cli_flag(argc, argv, &i, "--from-seq", &from, &bad))
            bad = bad || !seq_value("--from-seq", from, &a->o.from_seq);
        else if (cpm_cli_flag(argc, argv, &i, "--to-seq", &to, &bad))
            bad = bad || !(a->to_given = seq_value("--to-seq", to, &a->o.to_seq));
        else if (strcmp(argv[i], "--immutable") == 0)
            a->immutable = true;
        else if (strcmp(argv[i], "--progress") == 0)
            a->progress = true;
        else
            bad = true;
    }
    if (!bad && a->o.kind == CPM_EXPORT_STATE && (a->o.from_seq != 1 || a->to_given)) {
        fprintf(stderr, "cpm export: --from-seq and --to-seq are for events\n");
        bad = true;
    }
    return !bad;
}

/* Streams the export to stdout; the exit status. */
static int run(struct cpm_store *store, const struct export_args *a)
{
    struct cpm_export *x = cpm_export_new(store, &a->o);
    char *buf = cpm_malloc(OUT_BYTES);
    struct cpm_cli_progress progress;
    cpm_cli_progress_init(&progress, "export", a->progress);
    cpm_err err = x && buf ? CPM_OK : CPM_ERR_NOMEM;
    uint64_t bytes = 0;
    size_t len = 1;
    while (err == CPM_OK && len > 0) {
        err = cpm_export_read(x, buf, OUT_BYTES, &len);
        if (err == CPM_OK && !cpm_write_all(STDOUT_FILENO, buf, len))
            err = CPM_ERR_IO;
        bytes += len;
        if (x != NULL)
            cpm_cli_progress_tick(&progress, "exporting", cpm_export_rows(x));
    }
    cpm_cli_progress_end(&progress);
    if (err == CPM_OK)
        fprintf(stderr, "cpm export: %llu %s, %llu bytes\n", (unsigned long long)cpm_export_rows(x),
                a->o.kind == CPM_EXPORT_EVENTS ? "events" : "consent states",
                (unsigned long long)bytes);
    else
        fprintf(stderr, "cpm export: stopped after %llu rows: %s\n",
                (unsigned long long)(x ? cpm_export_rows(x) : 0),
                err == CPM_ERR_IO ? "cannot write to standard output" : cpm_err_message(err));
    cpm_free(buf);
    cpm_export_free(x);
    return err == CPM_OK ? CPM_EXIT_OK : CPM_EXIT_FAILURE;
}

int cpm_cli_export(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CPM_EXIT_USAGE : CPM_EXIT_OK;
    }
    struct export_args a = {.o = {.format = CPM_EXPORT_NDJSON, .from_seq = 1}};
    bool known = true;
    if (strcmp(argv[1], "events") == 0)
        a.o.kind = CPM_EXPORT_EVENTS;
    else if (strcmp(argv[1], "state") == 0)
        a.o.kind = CPM_EXPORT_STATE;
    else
        known = false;
    if (!known || !parse(argc, argv, &a)) {
        usage(stderr);
        return CPM_EXIT_USAGE;
    }
    struct cpm_store *store =
        cpm_cli_open_store_readonly("export", cpm_cli_data_dir(a.data), a.immutable);
    if (store == NULL)
        return CPM_EXIT_FAILURE;
    uint64_t head = 0;
    cpm_err err = store->ops->ledger_size(store, &head);
    if (!a.to_given || a.o.to_seq > (int64_t)head)
        a.o.to_seq = (int64_t)head; /* the head when it starts: the export ends */
    int status = CPM_EXIT_FAILURE;
    if (err != CPM_OK)
        cpm_cli_report("export", err, NULL);
    else
        status = run(store, &a);
    cpm_store_close(store);
    return status;
}
