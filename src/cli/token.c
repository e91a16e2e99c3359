/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token.c — `cpm token`: mints an end-user token (JWT, HS256) for a subject
 * of a property, signed with the property's own HS256 token key, as the
 * company's back end would. For trying the end-user API and the demo page;
 * a production back end mints its own tokens and keeps its key.
 *
 *     cpm token --property P --subject S [--ttl SECONDS] [--data DIR]
 */
#include "core/common.h"

#include <sodium.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "crypto/config_secrets.h"
#include "crypto/jwt.h"
#include "crypto/keyring.h"
#include "domain/subject.h"
#include "store/config_writer.h"

#define TTL_DEFAULT_S 600
#define PART_BYTES    1024

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cpm token --property P --subject S [--ttl SECONDS] [--data DIR]\n\n"
            "Prints an end-user token (JWT, HS256) for subject S of property P, signed\n"
            "with the property's HS256 token key, valid for --ttl seconds (default %d,\n"
            "at most the property's token_lifetime_max).\n",
            TTL_DEFAULT_S);
}

/* base64url of len bytes, no padding, appended at out + *at. */
static void put_b64(char *out, size_t cap, size_t *at, const void *data, size_t len)
{
    sodium_bin2base64(out + *at, cap - *at, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    *at += strlen(out + *at);
}

/* header.payload.signature into out (cap ≥ 3 × PART_BYTES). */
static void sign(const struct cpm_jwt_key *key, const char *property, const char *subject,
                 int64_t ttl_s, char *out, size_t cap)
{
    char header[PART_BYTES], payload[PART_BYTES];
    int64_t now = cpm_clock_now_ms() / 1000;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    size_t at = 0;
    snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"typ\":\"JWT\"%s%s%s}",
             key->kid[0] ? ",\"kid\":\"" : "", key->kid, key->kid[0] ? "\"" : "");
    json_t *claims = json_pack("{s:s, s:s, s:I, s:I}", "sub", subject, "aud", property, "iat",
                               (json_int_t)now, "exp", (json_int_t)(now + ttl_s));
    char *text = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
    cpm_strlcpy(payload, text ? text : "{}", sizeof(payload));
    cpm_free(text);
    json_decref(claims);
    put_b64(out, cap, &at, header, strlen(header));
    out[at++] = '.';
    put_b64(out, cap, &at, payload, strlen(payload));
    crypto_auth_hmacsha256_init(&st, key->material, key->len);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)out, at);
    crypto_auth_hmacsha256_final(&st, mac);
    out[at++] = '.';
    put_b64(out, cap, &at, mac, sizeof(mac));
}

/* The property's first HS256 key, opened; CPM_ERR_NOT_FOUND when it has none. */
static cpm_err hs256_key(const char *data_dir, struct cpm_store *store, const char *property,
                         struct cpm_jwt_key *out)
{
    struct cpm_datadir_keys keys;
    struct cpm_keyring kr;
    struct cpm_detail detail;
    json_t *doc = NULL;
    int64_t revision;
    cpm_detail_init(&detail);
    cpm_err err = cpm_datadir_load_keys(data_dir, &keys, &detail);
    if (err == CPM_OK)
        err = cpm_keyring_init(&kr, &keys);
    cpm_datadir_keys_wipe(&keys);
    if (err != CPM_OK)
        return err;
    err = cpm_config_read(store, CPM_DOC_PROPERTY, property, &doc, &revision);
    if (err == CPM_OK)
        err = cpm_config_secrets_open(CPM_DOC_PROPERTY, doc, &kr);
    cpm_keyring_wipe(&kr);
    size_t i;
    json_t *jwk;
    bool found = false;
    json_array_foreach(json_object_get(doc, "token_keys"), i,
                       jwk) if (err == CPM_OK && !found &&
                                cpm_jwk_parse(jwk, "token_keys", out, NULL) == CPM_OK) found =
        out->alg == CPM_JWT_HS256;
    json_decref(doc);
    return err == CPM_OK && !found ? CPM_ERR_NOT_FOUND : err;
}

int cpm_cli_token(int argc, char **argv)
{
    const char *data = NULL, *property = NULL, *subject = NULL, *ttl_text = NULL;
    bool bad = false;
    int64_t ttl = TTL_DEFAULT_S;
    for (int i = 1; i < argc && !bad; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return CPM_EXIT_OK;
        }
        if (!cpm_cli_flag(argc, argv, &i, "--data", &data, &bad) &&
            !cpm_cli_flag(argc, argv, &i, "--property", &property, &bad) &&
            !cpm_cli_flag(argc, argv, &i, "--subject", &subject, &bad) &&
            !cpm_cli_flag(argc, argv, &i, "--ttl", &ttl_text, &bad) && !bad) {
            fprintf(stderr, "cpm token: unknown argument '%s'\n", argv[i]);
            bad = true;
        }
    }
    if (!bad && (property == NULL || subject == NULL || !cpm_subject_id_valid(subject) ||
                 (ttl_text && !cpm_parse_int64(ttl_text, 1, 86400, &ttl)))) {
        fprintf(stderr, "cpm token: --property and a valid --subject are required; --ttl is "
                        "1-86400 seconds\n");
        bad = true;
    }
    if (bad) {
        usage(stderr);
        return CPM_EXIT_USAGE;
    }
    const char *dir = cpm_cli_data_dir(data);
    struct cpm_store *store = cpm_cli_open_store("token", dir);
    if (store == NULL)
        return CPM_EXIT_FAILURE;
    struct cpm_jwt_key key;
    cpm_err err = hs256_key(dir, store, property, &key);
    cpm_store_close(store);
    if (err != CPM_OK) {
        fprintf(stderr, "cpm token: property '%s' %s\n", property,
                err == CPM_ERR_NOT_FOUND ? "does not exist or has no HS256 token key"
                                         : cpm_err_message(err));
        return CPM_EXIT_FAILURE;
    }
    char token[3 * PART_BYTES];
    sign(&key, property, subject, ttl, token, sizeof(token));
    cpm_jwt_key_wipe(&key);
    printf("%s\n", token);
    return CPM_EXIT_OK;
}
