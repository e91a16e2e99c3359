/* SPDX-License-Identifier: Apache-2.0 */
/*
 * random_id.c — see random_id.h.
 */
#include "core/common.h"

#include <sodium.h>

#include "crypto/random_id.h"

void cpm_random_id(char *out, size_t size, const char *prefix)
{
    uint8_t raw[CPM_RANDOM_ID_BYTES];
    char hex[2 * CPM_RANDOM_ID_BYTES + 1];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    snprintf(out, size, "%s%s", prefix, hex);
}
