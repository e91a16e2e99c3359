/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h — the `cpm` command line: a table of subcommands, one file each,
 * and the few helpers they share (flag parsing, data directory, errors).
 */
#ifndef CPM_CLI_H
#define CPM_CLI_H

#include "core/common.h"
#include "core/detail.h"
#include "store/store.h"

struct cpm_cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
};

extern const struct cpm_cli_command cpm_cli_commands[];
extern const size_t cpm_cli_commands_count;

int cpm_cli_init(int argc, char **argv);
int cpm_cli_serve(int argc, char **argv);
int cpm_cli_keys(int argc, char **argv);
int cpm_cli_seed(int argc, char **argv);
int cpm_cli_verify(int argc, char **argv);
int cpm_cli_token(int argc, char **argv);
int cpm_cli_evidence_pack(int argc, char **argv);
int cpm_cli_import(int argc, char **argv);
int cpm_cli_export(int argc, char **argv);

/* Exit statuses: 0 success, 1 failure, 2 usage error. */
enum { CPM_EXIT_OK = 0, CPM_EXIT_FAILURE = 1, CPM_EXIT_USAGE = 2 };

/*
 * If argv[*i] is `name VALUE` or `name=VALUE`, stores VALUE, advances *i
 * past it and returns true. A flag without its value prints an error and
 * sets *bad.
 */
bool cpm_cli_flag(int argc, char **argv, int *i, const char *name, const char **value, bool *bad);

/* The data directory: --data, else $CPM_DATA, else "data". */
const char *cpm_cli_data_dir(const char *flag_value);

/* Prints err and each fault of detail as "cpm COMMAND: field: message". */
void cpm_cli_report(const char *command, cpm_err err, const struct cpm_detail *detail);

/* Opens the store of an initialised data dir, reporting failures. */
struct cpm_store *cpm_cli_open_store(const char *command, const char *data_dir);
/* The same, read only (cpm_store_open_readonly). */
struct cpm_store *cpm_cli_open_store_readonly(const char *command, const char *data_dir,
                                              bool immutable);

/*
 * A progress line on stderr for long work, at most once a second: shown when
 * stderr is a terminal (rewritten in place) or when forced (--progress: one
 * line each time).
 */
struct cpm_cli_progress {
    const char *command;
    bool shown, terminal;
    int64_t start_ns, last_ns;
};
void cpm_cli_progress_init(struct cpm_cli_progress *p, const char *command, bool forced);
/* "cpm COMMAND: WHAT: N rows, R rows/s" when a second has passed since the last line. */
void cpm_cli_progress_tick(struct cpm_cli_progress *p, const char *what, uint64_t rows);
/* Clears the line on a terminal, so other messages start on a line of their own. */
void cpm_cli_progress_clear(struct cpm_cli_progress *p);
/* Ends the progress line (on a terminal, clears it); the next tick counts its rate from here. */
void cpm_cli_progress_end(struct cpm_cli_progress *p);

#endif /* CPM_CLI_H */
