/* SPDX-License-Identifier: Apache-2.0 */
/*
 * device_auth.h — anonymous visitors calling with their device credential
 * (crypto/device.h): `Authorization: Device dev1.…`. A device reaches what
 * a person's end-user token reaches (/v1/subjects/me/…, and
 * GET /v1/experience?subject=me), as its own subject, for its own
 * property, from the property's allowed origins; once merged into a person
 * at login it may read but no longer write (docs/END-USERS.md "Anonymous
 * visitors and login").
 */
#ifndef CPM_HTTP_DEVICE_AUTH_H
#define CPM_HTTP_DEVICE_AUTH_H

#include "core/common.h"
#include "core/detail.h"
#include "http/end_user.h"
#include "http/request.h"

/* The identity type a merged device is linked to its person with. */
#define CPM_IDENTITY_TYPE_DEVICE "device"

/* True when authorization is "Device <credential>". */
bool cpm_device_authorization(const char *authorization);

/*
 * Checks the device credential of authorization (its MAC), that its
 * property still exists, and, when a browser sent origin, that it is one of
 * the property's allowed_origins. *out gets the device's subject and
 * property. CPM_ERR_UNAUTHORIZED or CPM_ERR_FORBIDDEN with detail saying
 * why (never quoting the credential), CPM_ERR_STORE.
 */
struct cpm_keyring;
cpm_err cpm_device_check(struct cpm_store *store, const struct cpm_keyring *kr,
                         const char *authorization, const char *origin, struct cpm_end_user *out,
                         struct cpm_detail *detail) CPM_MUST_CHECK;

/*
 * The subject a device was merged into (owner, when not NULL), found by
 * the device's identity hash: CPM_OK when merged, CPM_ERR_NOT_FOUND when
 * not, CPM_ERR_STORE.
 */
cpm_err cpm_device_merged_into(struct cpm_store *store, const struct cpm_keyring *kr,
                               const char *device_subject,
                               char owner[CPM_SUBJECT_ID_BYTES_MAX + 1]) CPM_MUST_CHECK;

/*
 * For the server glue: a request with a device credential on a SUBJECT
 * route. Checks it (above), that the path says `me` (else FORBIDDEN), that
 * a write (any method but GET) comes from a device not merged yet (else
 * CONFLICT) and within the per-device limit (else RATE_LIMITED, with
 * req->retry_after_ms); then `me` becomes the device's subject,
 * end_user_property its property, and the answer carries CORS headers.
 * req->early_message says why when refused.
 */
cpm_err cpm_device_screen(struct cpm_request *req, const char *authorization) CPM_MUST_CHECK;

/*
 * True when an API key asks to write (POST, PUT, PATCH) under
 * /v1/subjects/{id} with an id reserved for devices ("anon-…"): such a
 * subject is created and written only through its device's credential.
 */
bool cpm_device_subject_write_reserved(const struct cpm_request *req);

#endif /* CPM_HTTP_DEVICE_AUTH_H */
