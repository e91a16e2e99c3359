/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.c — the subcommand table and the helpers every subcommand shares.
 */
#include "core/common.h"

#include "cli/cli.h"
#include "store/datadir.h"

const struct cpm_cli_command cpm_cli_commands[] = {
    {"init", "create a data directory: store, keys, first admin API key", cpm_cli_init},
    {"serve", "run the server (same as cpmd)", cpm_cli_serve},
    {"keys", "create, list and revoke API keys", cpm_cli_keys},
    {"seed", "load configuration (properties, purposes, notices, policies) from JSON",
     cpm_cli_seed},
    {"verify", "check an evidence bundle offline, or the whole store", cpm_cli_verify},
    {"token", "mint an end-user token (HS256) for trying the end-user API", cpm_cli_token},
};

const size_t cpm_cli_commands_count = CPM_ARRAY_LEN(cpm_cli_commands);

bool cpm_cli_flag(int argc, char **argv, int *i, const char *name, const char **value, bool *bad)
{
    size_t n = strlen(name);
    const char *arg = argv[*i];
    if (strncmp(arg, name, n) != 0)
        return false;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return true;
    }
    if (arg[n] != '\0')
        return false;
    if (*i + 1 >= argc) {
        fprintf(stderr, "cpm: %s needs a value\n", name);
        *bad = true;
        return true;
    }
    *value = argv[++*i];
    return true;
}

const char *cpm_cli_data_dir(const char *flag_value)
{
    if (flag_value != NULL)
        return flag_value;
    const char *env = getenv("CPM_DATA");
    return env && env[0] ? env : "data";
}

void cpm_cli_report(const char *command, cpm_err err, const struct cpm_detail *detail)
{
    if (detail == NULL || detail->count == 0) {
        fprintf(stderr, "cpm %s: %s\n", command, cpm_err_message(err));
        return;
    }
    for (int i = 0; i < detail->count; i++)
        fprintf(stderr, "cpm %s: %s%s%s\n", command, detail->faults[i].field,
                detail->faults[i].field[0] ? ": " : "", detail->faults[i].message);
    if (detail->dropped)
        fprintf(stderr, "cpm %s: … and %d more\n", command, detail->dropped);
}

struct cpm_store *cpm_cli_open_store(const char *command, const char *data_dir)
{
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    struct cpm_datadir_keys keys;
    cpm_err err = cpm_datadir_load_keys(data_dir, &keys, &detail);
    cpm_datadir_keys_wipe(&keys);
    struct cpm_store *store = NULL;
    if (err == CPM_OK)
        err = cpm_store_open(data_dir, &store, &detail);
    if (err != CPM_OK) {
        cpm_cli_report(command, err, &detail);
        return NULL;
    }
    return store;
}
