/* SPDX-License-Identifier: Apache-2.0 */
/*
 * device_auth.c — device credentials on requests (see the header).
 */
#include "core/common.h"

#include <jansson.h>

#include "core/clock.h"
#include "crypto/device.h"
#include "crypto/keyring.h"
#include "domain/config.h"
#include "domain/subject.h"
#include "http/app.h"
#include "http/device_auth.h"
#include "http/rate_limit.h"
#include "http/router.h"
#include "store/config_writer.h"

#define SCHEME     "Device "
#define SCHEME_LEN (sizeof(SCHEME) - 1)

bool cpm_device_authorization(const char *authorization)
{
    return authorization != NULL && strncmp(authorization, SCHEME, SCHEME_LEN) == 0;
}

cpm_err cpm_device_check(struct cpm_store *store, const struct cpm_keyring *kr,
                         const char *authorization, const char *origin, struct cpm_end_user *out,
                         struct cpm_detail *detail)
{
    struct cpm_device device;
    json_t *property = NULL;
    int64_t revision;
    CPM_ASSERT(cpm_device_authorization(authorization));
    if (cpm_device_open(kr, authorization + SCHEME_LEN, &device) != CPM_OK) {
        cpm_detail_add(detail, NULL, "not a device credential this service issued");
        return CPM_ERR_UNAUTHORIZED;
    }
    cpm_err err = cpm_config_read(store, CPM_DOC_PROPERTY, device.property, &property, &revision);
    if (err == CPM_ERR_NOT_FOUND) {
        cpm_detail_add(detail, NULL, "the device's property no longer exists");
        return CPM_ERR_UNAUTHORIZED;
    }
    if (err == CPM_OK && origin != NULL && !cpm_end_user_origin_listed(property, origin)) {
        cpm_detail_add(detail, NULL,
                       "this page's origin is not one of property '%s''s allowed_origins",
                       device.property);
        err = CPM_ERR_FORBIDDEN;
    }
    if (err == CPM_OK) {
        cpm_strlcpy(out->subject_id, device.subject_id, sizeof(out->subject_id));
        cpm_strlcpy(out->property, device.property, sizeof(out->property));
    }
    json_decref(property);
    return err;
}

cpm_err cpm_device_merged_into(struct cpm_store *store, const struct cpm_keyring *kr,
                               const char *device_subject, char owner[CPM_SUBJECT_ID_BYTES_MAX + 1])
{
    uint8_t hash[CPM_IDENTIFIER_HASH_BYTES];
    char found[CPM_SUBJECT_ID_BYTES_MAX + 1];
    cpm_identifier_hash(kr, CPM_IDENTITY_TYPE_DEVICE, device_subject, hash);
    cpm_err err = store->ops->identity_find(store, CPM_IDENTITY_TYPE_DEVICE, hash, found);
    if (err == CPM_OK && owner != NULL)
        cpm_strlcpy(owner, found, CPM_SUBJECT_ID_BYTES_MAX + 1);
    return err;
}

/* CPM_OK when the device may write: not merged into a person yet. */
static cpm_err check_not_merged(struct cpm_request *req, const char *device_subject)
{
    cpm_err err = cpm_device_merged_into(req->app->store, req->app->keyring, device_subject, NULL);
    if (err == CPM_ERR_NOT_FOUND)
        return CPM_OK;
    if (err == CPM_OK) {
        cpm_strlcpy(req->early_message,
                    "this device was merged into a person at login: write with the person's"
                    " end-user token",
                    sizeof(req->early_message));
        return CPM_ERR_CONFLICT;
    }
    return err;
}

static cpm_err take_write(struct cpm_request *req, const struct cpm_end_user *device)
{
    if (cpm_rate_limit_take(cpm_rate_limit_key(device->property, device->subject_id),
                            cpm_clock_monotonic_ns() / 1000000, CPM_END_USER_WRITES_BURST,
                            CPM_END_USER_WRITES_EVERY_MS, &req->retry_after_ms))
        return CPM_OK;
    cpm_strlcpy(req->early_message, "too many changes from this device: retry later",
                sizeof(req->early_message));
    return CPM_ERR_RATE_LIMITED;
}

cpm_err cpm_device_screen(struct cpm_request *req, const char *authorization)
{
    struct cpm_end_user device;
    struct cpm_detail detail;
    cpm_detail_init(&detail);
    const char *origin = cpm_request_origin(req);
    cpm_err err = cpm_device_check(req->app->store, req->app->keyring, authorization, origin,
                                   &device, &detail);
    if (detail.count > 0)
        cpm_strlcpy(req->early_message, detail.faults[0].message, sizeof(req->early_message));
    if (err == CPM_OK && strcmp(req->params[0], CPM_SUBJECT_ME) != 0) {
        cpm_strlcpy(req->early_message, "a device credential reaches only /v1/subjects/me/…",
                    sizeof(req->early_message));
        err = CPM_ERR_FORBIDDEN;
    }
    if (err == CPM_OK && req->method != CPM_GET)
        err = check_not_merged(req, device.subject_id);
    if (err == CPM_OK && req->method != CPM_GET)
        err = take_write(req, &device);
    if (err != CPM_OK)
        return err;
    req->params[0] = cpm_arena_strndup(&req->arena, device.subject_id, strlen(device.subject_id));
    cpm_strlcpy(req->end_user_property, device.property, sizeof(req->end_user_property));
    req->cors_origin = origin;
    return req->params[0] != NULL ? CPM_OK : CPM_ERR_NOMEM;
}

bool cpm_device_subject_write_reserved(const struct cpm_request *req)
{
    static const char subjects[] = "/v1/subjects/{id}";
    const char *path = req->route->path;
    return (req->method == CPM_POST || req->method == CPM_PUT || req->method == CPM_PATCH) &&
           strncmp(path, subjects, sizeof(subjects) - 1) == 0 &&
           (path[sizeof(subjects) - 1] == '\0' || path[sizeof(subjects) - 1] == '/') &&
           cpm_device_subject_reserved(req->params[0]);
}
