/* SPDX-License-Identifier: Apache-2.0 */
/*
 * assets.c — finding an embedded static file by its path.
 */
#include "core/common.h"

#include "http/assets.h"

const struct cpm_asset *cpm_asset_find(const char *path)
{
    for (size_t i = 0; i < cpm_assets_count; i++)
        if (strcmp(cpm_assets[i].path, path) == 0)
            return &cpm_assets[i];
    return NULL;
}
