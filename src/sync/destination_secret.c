/* SPDX-License-Identifier: Apache-2.0 */
/*
 * destination_secret.c — destinations' credentials sealed at rest (see the header).
 */
#include "core/common.h"

#include <sodium.h>

#include "sync/destination_secret.h"

/* "destination/<id>": the associated data a sealed secret is bound to. */
static void name_of(const json_t *doc, char *out, size_t cap)
{
    snprintf(out, cap, "destination/%s", json_string_value(json_object_get(doc, "id")));
}

cpm_err cpm_destination_secret_seal(json_t *doc, const struct cpm_keyring *kr)
{
    const char *secret = json_string_value(json_object_get(doc, "secret"));
    char name[CPM_ID_BYTES_MAX + 16], sealed[CPM_SECRET_SEALED_BYTES_MAX];
    if (secret == NULL || cpm_secret_is_sealed(secret))
        return CPM_OK;
    name_of(doc, name, sizeof(name));
    cpm_err err = cpm_secret_seal(kr, name, secret, sealed, sizeof(sealed));
    if (err == CPM_OK)
        err = json_object_set_new(doc, "secret", json_string(sealed)) == 0 ? CPM_OK : CPM_ERR_NOMEM;
    return err;
}

cpm_err cpm_destination_secret_open(json_t *doc, const struct cpm_keyring *kr)
{
    const char *secret = json_string_value(json_object_get(doc, "secret"));
    char name[CPM_ID_BYTES_MAX + 16], plain[CPM_SECRET_BYTES_MAX + 1];
    if (secret == NULL || !cpm_secret_is_sealed(secret))
        return CPM_OK;
    name_of(doc, name, sizeof(name));
    cpm_err err = cpm_secret_open(kr, name, secret, plain, sizeof(plain));
    if (err == CPM_OK)
        err = json_object_set_new(doc, "secret", json_string(plain)) == 0 ? CPM_OK : CPM_ERR_NOMEM;
    sodium_memzero(plain, sizeof(plain));
    return err;
}
