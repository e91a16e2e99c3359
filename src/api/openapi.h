/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openapi.h — docs/openapi.yaml as compact JSON, embedded at build time by
 * tools/openapi_embed.c (the generated file is build/openapi_doc.c).
 */
#ifndef CPM_API_OPENAPI_H
#define CPM_API_OPENAPI_H

#include <stddef.h>

extern const char cpm_openapi_json[];     /* NUL-terminated */
extern const size_t cpm_openapi_json_len; /* without the NUL */

#endif /* CPM_API_OPENAPI_H */
