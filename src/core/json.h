/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.h — parsing untrusted JSON with OpenCPM's limits.
 *
 * jansson does the parsing (it rejects invalid UTF-8 and, with the flag we
 * pass, duplicate keys); this adds the nesting limit, checked by a linear
 * scan before anything is allocated, and turns jansson's error into a fault
 * a person can act on ("line 3, column 7: '}' expected").
 */
#ifndef CPM_CORE_JSON_H
#define CPM_CORE_JSON_H

#include <jansson.h>

#include "core/common.h"
#include "core/detail.h"

/*
 * Parses text[0..len) into a JSON object (owned by the caller).
 * CPM_ERR_MALFORMED_JSON: not JSON, invalid UTF-8, duplicate keys, nested
 * deeper than CPM_JSON_DEPTH_MAX. CPM_ERR_VALIDATION: valid JSON that is not
 * an object. CPM_ERR_NOMEM.
 */
cpm_err cpm_json_parse_object(const char *text, size_t len, json_t **out,
                              struct cpm_detail *detail) CPM_MUST_CHECK;

/* The deepest nesting of arrays/objects in text (strings skipped). */
int cpm_json_depth(const char *text, size_t len);

/*
 * Applies an RFC 7396 merge patch to *target in place: members set to null
 * are removed, objects merge recursively, anything else replaces. patch is
 * borrowed; its depth is bounded by the parse limit. CPM_ERR_NOMEM.
 */
cpm_err cpm_json_merge_patch(json_t **target, const json_t *patch) CPM_MUST_CHECK;

#endif /* CPM_CORE_JSON_H */
