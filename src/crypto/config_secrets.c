/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_secrets.c — credentials in configuration documents, sealed at
 * rest (see the header).
 */
#include "core/common.h"

#include <sodium.h>

#include "crypto/config_secrets.h"

typedef cpm_err (*field_fn)(json_t *holder, const char *field, const char *name,
                            const struct cpm_keyring *kr);

static cpm_err seal_field(json_t *holder, const char *field, const char *name,
                          const struct cpm_keyring *kr)
{
    const char *text = json_string_value(json_object_get(holder, field));
    char sealed[CPM_SECRET_SEALED_BYTES_MAX];
    if (text == NULL || cpm_secret_is_sealed(text))
        return CPM_OK;
    cpm_err err = cpm_secret_seal(kr, name, text, sealed, sizeof(sealed));
    if (err == CPM_OK)
        err = json_object_set_new(holder, field, json_string(sealed)) == 0 ? CPM_OK : CPM_ERR_NOMEM;
    return err;
}

static cpm_err open_field(json_t *holder, const char *field, const char *name,
                          const struct cpm_keyring *kr)
{
    const char *text = json_string_value(json_object_get(holder, field));
    char plain[CPM_SECRET_BYTES_MAX + 1];
    if (text == NULL || !cpm_secret_is_sealed(text))
        return CPM_OK;
    cpm_err err = cpm_secret_open(kr, name, text, plain, sizeof(plain));
    if (err == CPM_OK)
        err = json_object_set_new(holder, field, json_string(plain)) == 0 ? CPM_OK : CPM_ERR_NOMEM;
    sodium_memzero(plain, sizeof(plain));
    return err;
}

/* Applies fn to every credential field of doc, each bound to "<kind>/<id>". */
static cpm_err each_field(enum cpm_doc_kind kind, json_t *doc, field_fn fn,
                          const struct cpm_keyring *kr)
{
    char name[CPM_ID_BYTES_MAX + 16];
    snprintf(name, sizeof(name), "%s/%s", cpm_doc_kind_name(kind),
             json_string_value(json_object_get(doc, "id")));
    if (kind == CPM_DOC_DESTINATION)
        return fn(doc, "secret", name, kr);
    cpm_err err = CPM_OK;
    size_t i;
    json_t *jwk;
    if (kind == CPM_DOC_PROPERTY)
        json_array_foreach(json_object_get(doc, "token_keys"), i, jwk) if (err == CPM_OK) err =
            fn(jwk, "k", name, kr);
    return err;
}

cpm_err cpm_config_secrets_seal(enum cpm_doc_kind kind, json_t *doc, const struct cpm_keyring *kr)
{
    return each_field(kind, doc, seal_field, kr);
}

cpm_err cpm_config_secrets_open(enum cpm_doc_kind kind, json_t *doc, const struct cpm_keyring *kr)
{
    return each_field(kind, doc, open_field, kr);
}

static bool sealed_at(const json_t *holder, const char *field)
{
    const char *text = json_string_value(json_object_get(holder, field));
    return text != NULL && cpm_secret_is_sealed(text);
}

bool cpm_config_secrets_sent_sealed(enum cpm_doc_kind kind, const json_t *doc)
{
    size_t i;
    const json_t *jwk;
    if (kind == CPM_DOC_DESTINATION)
        return sealed_at(doc, "secret");
    if (kind == CPM_DOC_PROPERTY)
        json_array_foreach(json_object_get(doc, "token_keys"), i,
                           jwk) if (sealed_at(jwk, "k")) return true;
    return false;
}
