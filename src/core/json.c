/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.c — limited JSON parsing on top of jansson.
 */
#include "core/common.h"

#include "core/json.h"

int cpm_json_depth(const char *text, size_t len)
{
    int depth = 0, max = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

cpm_err cpm_json_parse_object(const char *text, size_t len, json_t **out, struct cpm_detail *detail)
{
    *out = NULL;
    int depth = cpm_json_depth(text, len);
    if (depth > CPM_JSON_DEPTH_MAX) {
        cpm_detail_add(detail, NULL, "JSON nested %d deep; the limit is %d", depth,
                       CPM_JSON_DEPTH_MAX);
        return CPM_ERR_MALFORMED_JSON;
    }
    json_error_t error;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    if (doc == NULL) {
        if (json_error_code(&error) == json_error_out_of_memory)
            return CPM_ERR_NOMEM;
        cpm_detail_add(detail, NULL, "line %d, column %d: %s", error.line, error.column,
                       error.text);
        return CPM_ERR_MALFORMED_JSON;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        cpm_detail_add(detail, "", "the body must be a JSON object");
        return CPM_ERR_VALIDATION;
    }
    *out = doc;
    return CPM_OK;
}

cpm_err cpm_json_merge_patch(json_t **target, const json_t *patch)
{
    if (!json_is_object(patch)) {
        json_t *copy = json_deep_copy(patch);
        if (copy == NULL)
            return CPM_ERR_NOMEM;
        json_decref(*target);
        *target = copy;
        return CPM_OK;
    }
    if (!json_is_object(*target)) {
        json_decref(*target);
        *target = json_object();
        if (*target == NULL)
            return CPM_ERR_NOMEM;
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)patch, key, value)
    {
        if (json_is_null(value)) {
            json_object_del(*target, key);
            continue;
        }
        json_t *member = json_incref(json_object_get(*target, key));
        if (member == NULL)
            member = json_null();
        cpm_err err = cpm_json_merge_patch(&member, value);
        if (err != CPM_OK || json_object_set_new(*target, key, member) != 0) {
            if (err != CPM_OK)
                json_decref(member);
            return CPM_ERR_NOMEM;
        }
    }
    return CPM_OK;
}
