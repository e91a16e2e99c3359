/* SPDX-License-Identifier: Apache-2.0 */
/*
 * init.c — `cpm init --data DIR`: creates the data directory (keys), the
 * store, and the first admin API key, printed once on a line of its own so
 * scripts can take it (`grep '^cpm_'`).
 */
#include "core/common.h"

#include <sodium.h>

#include "cli/cli.h"
#include "http/auth.h"
#include "store/datadir.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: cpm init [--data DIR]\n\n"
                 "Creates DIR (default $CPM_DATA or ./data) with a fresh SQLite store, master\n"
                 "key and Ed25519 signing key, and prints the first admin API key once.\n"
                 "Refuses to touch a directory that is already initialised.\n");
}

int cpm_cli_init(int argc, char **argv)
{
    const char *data = NULL;
    bool bad = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return CPM_EXIT_OK;
        }
        if (!cpm_cli_flag(argc, argv, &i, "--data", &data, &bad)) {
            fprintf(stderr, "cpm init: unknown argument '%s'\n", argv[i]);
            bad = true;
        }
        if (bad) {
            usage(stderr);
            return CPM_EXIT_USAGE;
        }
    }
    const char *dir = cpm_cli_data_dir(data);
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    struct cpm_store *store = NULL;
    cpm_err err = cpm_datadir_create(dir, &detail);
    if (err == CPM_OK)
        err = cpm_store_open(dir, &store, &detail);
    struct cpm_api_key key = {.scopes = CPM_SCOPE_ADMIN};
    cpm_strlcpy(key.name, "initial admin (cpm init)", sizeof(key.name));
    char secret[CPM_API_KEY_TEXT_BYTES];
    if (err == CPM_OK)
        err = cpm_api_key_mint(store, &key, secret);
    cpm_store_close(store);
    if (err != CPM_OK) {
        cpm_cli_report("init", err, &detail);
        return CPM_EXIT_FAILURE;
    }
    fprintf(stderr,
            "Initialised OpenCPM data directory %s\n"
            "Admin API key %s (shown once; keep it somewhere safe):\n",
            dir, key.id);
    printf("%s\n", secret);
    fflush(stdout);
    sodium_memzero(secret, sizeof(secret));
    return CPM_EXIT_OK;
}
