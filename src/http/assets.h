/* SPDX-License-Identifier: Apache-2.0 */
/*
 * assets.h — the static files cpmd serves (web/: the consent widget, the
 * demo page), embedded at build time by tools/assets_embed.c.
 */
#ifndef CPM_HTTP_ASSETS_H
#define CPM_HTTP_ASSETS_H

#include <stddef.h>

struct cpm_asset {
    const char *path; /* relative to web/: "widget/cpm-widget.js" */
    const char *type; /* its media type */
    const char *data;
    size_t len;
    const char *etag; /* a strong ETag of the bytes, quoted */
};

extern const struct cpm_asset cpm_assets[]; /* ends with an entry whose path is NULL */
extern const size_t cpm_assets_count;

/* The asset at path, or NULL. */
const struct cpm_asset *cpm_asset_find(const char *path);

#endif /* CPM_HTTP_ASSETS_H */
