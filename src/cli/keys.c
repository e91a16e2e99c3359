/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keys.c — `cpm keys create|list|revoke`: API keys from the command line,
 * working on the store directly (safe while cpmd runs: SQLite WAL).
 */
#include "core/common.h"

#include <sodium.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "http/auth.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: cpm keys create --name NAME --scope SCOPE [--scope SCOPE…] [--data DIR]\n"
                 "       cpm keys list [--data DIR]\n"
                 "       cpm keys revoke KEY_ID [--data DIR]\n\n"
                 "Scopes: admin, config, consents:write, decisions:read, ledger:read, export.\n"
                 "create prints the new key once, on a line of its own.\n"
                 "A running cpmd notices a key revoked here within a second (it remembers\n"
                 "checked keys that long); DELETE /v1/api-keys/ID revokes at once.\n");
}

struct keys_args {
    const char *data;
    const char *name;
    const char *id;
    uint32_t scopes;
};

/* Parses argv[2…] (after "keys VERB"); false on a usage error (reported). */
static bool parse(int argc, char **argv, struct keys_args *a)
{
    bool bad = false;
    for (int i = 2; i < argc && !bad; i++) {
        const char *scope = NULL;
        if (cpm_cli_flag(argc, argv, &i, "--data", &a->data, &bad) ||
            cpm_cli_flag(argc, argv, &i, "--name", &a->name, &bad))
            continue;
        if (cpm_cli_flag(argc, argv, &i, "--scope", &scope, &bad)) {
            uint32_t bit = scope ? cpm_scope_parse(scope) : 0;
            if (bit == 0 && !bad) {
                fprintf(stderr, "cpm keys: unknown scope '%s'\n", scope);
                bad = true;
            }
            a->scopes |= bit;
        } else if (argv[i][0] != '-' && a->id == NULL) {
            a->id = argv[i];
        } else {
            fprintf(stderr, "cpm keys: unknown argument '%s'\n", argv[i]);
            bad = true;
        }
    }
    return !bad;
}

static int create(struct cpm_store *store, const struct keys_args *a)
{
    if (a->name == NULL || a->name[0] == '\0' || strlen(a->name) > CPM_NAME_BYTES_MAX ||
        a->scopes == 0) {
        fprintf(stderr, "cpm keys create: needs --name (1–%d bytes) and at least one --scope\n",
                CPM_NAME_BYTES_MAX);
        return CPM_EXIT_USAGE;
    }
    struct cpm_api_key key = {.scopes = a->scopes};
    cpm_strlcpy(key.name, a->name, sizeof(key.name));
    char secret[CPM_API_KEY_TEXT_BYTES];
    cpm_err err = cpm_api_key_mint(store, &key, secret);
    if (err != CPM_OK) {
        cpm_cli_report("keys create", err, NULL);
        return CPM_EXIT_FAILURE;
    }
    fprintf(stderr, "API key %s created (shown once):\n", key.id);
    printf("%s\n", secret);
    sodium_memzero(secret, sizeof(secret));
    return CPM_EXIT_OK;
}

static cpm_err print_key(void *ctx, const struct cpm_api_key *key)
{
    char *last = ctx;
    char scopes[CPM_SCOPES_TEXT_BYTES], created[CPM_TIME_TEXT_BYTES], revoked[CPM_TIME_TEXT_BYTES];
    cpm_scopes_format(key->scopes, scopes, sizeof(scopes));
    cpm_time_format(key->created_ms, created, sizeof(created));
    if (key->revoked_ms)
        cpm_time_format(key->revoked_ms, revoked, sizeof(revoked));
    printf("%-22s %-24s %-8s %-40s %s\n", key->id, created, key->revoked_ms ? "revoked" : "active",
           scopes, key->name);
    cpm_strlcpy(last, key->id, CPM_API_KEY_ID_BYTES);
    return CPM_OK;
}

static int list(struct cpm_store *store)
{
    char last[CPM_API_KEY_ID_BYTES] = "";
    printf("%-22s %-24s %-8s %-40s %s\n", "ID", "CREATED", "STATUS", "SCOPES", "NAME");
    for (;;) {
        char after[CPM_API_KEY_ID_BYTES];
        cpm_strlcpy(after, last, sizeof(after));
        cpm_err err = store->ops->api_key_list(store, after[0] ? after : NULL, CPM_PAGE_LIMIT_MAX,
                                               print_key, last);
        if (err != CPM_OK) {
            cpm_cli_report("keys list", err, NULL);
            return CPM_EXIT_FAILURE;
        }
        if (strcmp(after, last) == 0)
            return CPM_EXIT_OK;
    }
}

static int revoke(struct cpm_store *store, const struct keys_args *a)
{
    if (a->id == NULL) {
        fprintf(stderr, "cpm keys revoke: which key? (cpm keys list shows their ids)\n");
        return CPM_EXIT_USAGE;
    }
    cpm_err err = strlen(a->id) < CPM_API_KEY_ID_BYTES
                      ? store->ops->api_key_revoke(store, a->id, cpm_clock_now_ms())
                      : CPM_ERR_NOT_FOUND;
    if (err == CPM_ERR_NOT_FOUND) {
        fprintf(stderr, "cpm keys revoke: no active key '%s'\n", a->id);
        return CPM_EXIT_FAILURE;
    }
    if (err != CPM_OK) {
        cpm_cli_report("keys revoke", err, NULL);
        return CPM_EXIT_FAILURE;
    }
    fprintf(stderr, "API key %s revoked\n", a->id);
    return CPM_EXIT_OK;
}

int cpm_cli_keys(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CPM_EXIT_USAGE : CPM_EXIT_OK;
    }
    const char *verb = argv[1];
    bool known =
        strcmp(verb, "create") == 0 || strcmp(verb, "list") == 0 || strcmp(verb, "revoke") == 0;
    struct keys_args a = {0};
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return CPM_EXIT_OK;
        }
    if (!known || !parse(argc, argv, &a)) {
        if (!known)
            fprintf(stderr, "cpm keys: unknown action '%s'\n", verb);
        usage(stderr);
        return CPM_EXIT_USAGE;
    }
    if ((verb[0] != 'r' && a.id != NULL) || (verb[0] != 'c' && (a.name || a.scopes))) {
        fprintf(stderr, "cpm keys %s: unexpected arguments\n", verb);
        usage(stderr);
        return CPM_EXIT_USAGE;
    }
    struct cpm_store *store = cpm_cli_open_store("keys", cpm_cli_data_dir(a.data));
    if (store == NULL)
        return CPM_EXIT_FAILURE;
    int status = verb[0] == 'c'   ? create(store, &a)
                 : verb[0] == 'l' ? list(store)
                                  : revoke(store, &a);
    cpm_store_close(store);
    return status;
}
