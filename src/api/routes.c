/* SPDX-License-Identifier: Apache-2.0 */
/*
 * routes.c — the route table: every operation cpmd serves, who may call it,
 * and its handler. docs/openapi.yaml lists exactly these operations
 * (tests/unit/api/test_openapi_routes.c checks both ways).
 */
#include "core/common.h"

#include "api/api.h"
#include "http/auth.h"
#include "http/router.h"

#define PUBLIC   CPM_ACCESS_PUBLIC, 0
#define SCOPE(s) CPM_ACCESS_SCOPE, (s)
#define CONFIG   SCOPE(CPM_SCOPE_CONFIG)
/* an API key with the scope, or an end-user token on /v1/subjects/me/… */
#define SUBJECT(s) CPM_ACCESS_SUBJECT, (s)

const struct cpm_route cpm_routes[] = {
    {CPM_GET, "/healthz", PUBLIC, false, cpm_api_healthz},
    {CPM_GET, "/readyz", PUBLIC, false, cpm_api_readyz},
    {CPM_GET, "/metrics", PUBLIC, false, cpm_api_metrics},
    {CPM_GET, "/v1/openapi.json", PUBLIC, false, cpm_api_openapi},
    {CPM_GET, "/v1/experience", PUBLIC, false, cpm_api_experience},
    {CPM_GET, "/widget/{file}", PUBLIC, false, cpm_api_widget_file},
    {CPM_GET, "/demo", PUBLIC, false, cpm_api_demo_index},
    {CPM_GET, "/demo/{file}", PUBLIC, false, cpm_api_demo_file},
    {CPM_GET, "/center", PUBLIC, false, cpm_api_center_index},
    {CPM_GET, "/center/{file}", PUBLIC, false, cpm_api_center_file},
    {CPM_GET, "/admin", PUBLIC, false, cpm_api_admin_index},
    {CPM_GET, "/admin/{file}", PUBLIC, false, cpm_api_admin_file},
    {CPM_GET, "/lib/{file}", PUBLIC, false, cpm_api_lib_file},
    /* the admin console: an API key for a session cookie (admin.c, http/session.h) */
    {CPM_POST, "/v1/admin/sessions", PUBLIC, true, cpm_api_admin_sessions_create},
    {CPM_GET, "/v1/admin/sessions/current", CPM_ACCESS_SESSION, 0, false,
     cpm_api_admin_sessions_current},
    {CPM_DELETE, "/v1/admin/sessions/current", CPM_ACCESS_SESSION, 0, false,
     cpm_api_admin_sessions_end},
    /* a token or an API key with consents:write: the handlers authenticate (src/api/otp.c) */
    {CPM_POST, "/v1/otp/challenges", PUBLIC, true, cpm_api_otp_challenges_create},
    {CPM_POST, "/v1/otp/challenges/{id}/verify", PUBLIC, true, cpm_api_otp_challenges_verify},
    /* anyone: an anonymous visitor's device (rate limited per address; src/api/devices.c) */
    {CPM_POST, "/v1/devices", PUBLIC, true, cpm_api_devices_create},

    {CPM_GET, "/v1/properties", CONFIG, false, cpm_api_properties_list},
    {CPM_POST, "/v1/properties", CONFIG, true, cpm_api_properties_create},
    {CPM_GET, "/v1/properties/{id}", CONFIG, false, cpm_api_properties_get},
    {CPM_PATCH, "/v1/properties/{id}", CONFIG, true, cpm_api_properties_patch},

    {CPM_GET, "/v1/purposes", CONFIG, false, cpm_api_purposes_list},
    {CPM_POST, "/v1/purposes", CONFIG, true, cpm_api_purposes_create},
    {CPM_GET, "/v1/purposes/{id}", CONFIG, false, cpm_api_purposes_get},
    {CPM_PATCH, "/v1/purposes/{id}", CONFIG, true, cpm_api_purposes_patch},

    {CPM_GET, "/v1/notices", CONFIG, false, cpm_api_notices_list},
    {CPM_POST, "/v1/notices", CONFIG, true, cpm_api_notices_create},
    {CPM_GET, "/v1/notices/{id}", CONFIG, false, cpm_api_notices_get},
    {CPM_PATCH, "/v1/notices/{id}", CONFIG, true, cpm_api_notices_patch},
    {CPM_POST, "/v1/notices/{id}/versions", CONFIG, true, cpm_api_notice_versions_publish},
    {CPM_GET, "/v1/notices/{id}/versions", PUBLIC, false, cpm_api_notice_versions_list},
    {CPM_GET, "/v1/notices/{id}/versions/{version}", PUBLIC, false, cpm_api_notice_versions_get},
    /* before publishing: who a material change would ask again (notice_reconsent.c) */
    {CPM_GET, "/v1/notices/{id}/reconsent", CONFIG, false, cpm_api_notice_reconsent},

    {CPM_GET, "/v1/policies", CONFIG, false, cpm_api_policies_list},
    {CPM_POST, "/v1/policies", CONFIG, true, cpm_api_policies_create},
    {CPM_GET, "/v1/policies/{id}", CONFIG, false, cpm_api_policies_get},
    {CPM_PATCH, "/v1/policies/{id}", CONFIG, true, cpm_api_policies_patch},
    /* a draft policy's experience, nothing saved: the console's live preview (policy_preview.c) */
    {CPM_POST, "/v1/policies/preview", CONFIG, true, cpm_api_policies_preview},

    {CPM_GET, "/v1/topics", CONFIG, false, cpm_api_topics_list},
    {CPM_POST, "/v1/topics", CONFIG, true, cpm_api_topics_create},
    {CPM_GET, "/v1/topics/{id}", CONFIG, false, cpm_api_topics_get},
    {CPM_PATCH, "/v1/topics/{id}", CONFIG, true, cpm_api_topics_patch},

    {CPM_GET, "/v1/channels", CONFIG, false, cpm_api_channels_list},
    {CPM_POST, "/v1/channels", CONFIG, true, cpm_api_channels_create},
    {CPM_GET, "/v1/channels/{id}", CONFIG, false, cpm_api_channels_get},
    {CPM_PATCH, "/v1/channels/{id}", CONFIG, true, cpm_api_channels_patch},

    {CPM_GET, "/v1/destinations", CONFIG, false, cpm_api_destinations_list},
    {CPM_POST, "/v1/destinations", CONFIG, true, cpm_api_destinations_create},
    {CPM_GET, "/v1/destinations/{id}", CONFIG, false, cpm_api_destinations_get},
    {CPM_PATCH, "/v1/destinations/{id}", CONFIG, true, cpm_api_destinations_patch},
    {CPM_DELETE, "/v1/destinations/{id}", CONFIG, false, cpm_api_destinations_delete},
    {CPM_POST, "/v1/destinations/{id}/test", CONFIG, false, cpm_api_destinations_test},
    {CPM_POST, "/v1/destinations/{id}/replay", CONFIG, false, cpm_api_destinations_replay},
    {CPM_GET, "/v1/destinations/{id}/deliveries", CONFIG, false, cpm_api_destinations_deliveries},

    {CPM_GET, "/v1/subjects", SCOPE(CPM_SCOPE_DECISIONS_READ), false, cpm_api_subjects_find},
    {CPM_GET, "/v1/subjects/{id}", SCOPE(CPM_SCOPE_DECISIONS_READ), false, cpm_api_subjects_get},
    {CPM_PUT, "/v1/subjects/{id}", SCOPE(CPM_SCOPE_CONSENTS_WRITE), true, cpm_api_subjects_put},
    {CPM_DELETE, "/v1/subjects/{id}", SCOPE(CPM_SCOPE_ADMIN), false, cpm_api_subjects_erase},
    /* a token merges only a device into its person (subjects.c, devices.c) */
    {CPM_POST, "/v1/subjects/{id}/identities", SUBJECT(CPM_SCOPE_CONSENTS_WRITE), true,
     cpm_api_subject_identities_link},
    {CPM_POST, "/v1/subjects/{id}/guardians", SCOPE(CPM_SCOPE_CONSENTS_WRITE), true,
     cpm_api_subject_guardians_link},
    {CPM_GET, "/v1/subjects/{id}/wards", SUBJECT(CPM_SCOPE_DECISIONS_READ), false,
     cpm_api_subject_wards_list},

    {CPM_POST, "/v1/subjects/{id}/displays", SUBJECT(CPM_SCOPE_CONSENTS_WRITE), true,
     cpm_api_subject_displays_record},
    {CPM_POST, "/v1/subjects/{id}/consents", SUBJECT(CPM_SCOPE_CONSENTS_WRITE), true,
     cpm_api_consents_record},
    {CPM_GET, "/v1/subjects/{id}/consents", SUBJECT(CPM_SCOPE_DECISIONS_READ), false,
     cpm_api_consents_list},
    {CPM_GET, "/v1/subjects/{id}/preferences", SUBJECT(CPM_SCOPE_DECISIONS_READ), false,
     cpm_api_preferences_get},
    {CPM_PUT, "/v1/subjects/{id}/preferences", SUBJECT(CPM_SCOPE_CONSENTS_WRITE), true,
     cpm_api_preferences_put},
    {CPM_PATCH, "/v1/subjects/{id}/preferences", SUBJECT(CPM_SCOPE_CONSENTS_WRITE), true,
     cpm_api_preferences_patch},
    {CPM_POST, "/v1/subjects/{id}/contacts", SCOPE(CPM_SCOPE_CONSENTS_WRITE), true,
     cpm_api_contacts_record},
    {CPM_GET, "/v1/subjects/{id}/deliveries", SUBJECT(CPM_SCOPE_DECISIONS_READ), false,
     cpm_api_subject_deliveries},
    {CPM_POST, "/v1/inbound/sms", SCOPE(CPM_SCOPE_CONSENTS_WRITE), true, cpm_api_inbound_sms},

    /* rights requests (PIPL Art. 44–50): the person's, and the operators' queue (rights.c) */
    {CPM_POST, "/v1/subjects/{id}/requests", SUBJECT(CPM_SCOPE_CONSENTS_WRITE), true,
     cpm_api_subject_requests_create},
    {CPM_GET, "/v1/subjects/{id}/requests", SUBJECT(CPM_SCOPE_DECISIONS_READ), false,
     cpm_api_subject_requests_list},
    {CPM_GET, "/v1/requests", SCOPE(CPM_SCOPE_ADMIN), false, cpm_api_requests_queue},
    {CPM_GET, "/v1/requests/{id}", SCOPE(CPM_SCOPE_ADMIN), false, cpm_api_requests_get},
    {CPM_PATCH, "/v1/requests/{id}", SCOPE(CPM_SCOPE_ADMIN), true, cpm_api_requests_patch},

    {CPM_GET, "/v1/decide", SCOPE(CPM_SCOPE_DECISIONS_READ), false, cpm_api_decide_get},
    {CPM_POST, "/v1/decide", SCOPE(CPM_SCOPE_DECISIONS_READ), true, cpm_api_decide_post},

    {CPM_GET, "/v1/subjects/{id}/events", SUBJECT(CPM_SCOPE_LEDGER_READ), false,
     cpm_api_subject_events},

    {CPM_GET, "/v1/subjects/{id}/evidence", SUBJECT(CPM_SCOPE_LEDGER_READ), false,
     cpm_api_subject_evidence},
    {CPM_GET, "/v1/subjects/{id}/receipts/{event}", SUBJECT(CPM_SCOPE_LEDGER_READ), false,
     cpm_api_subject_receipt},
    /* a subject's or a time range's evidence as one archive (evidence_packs.c) */
    {CPM_GET, "/v1/evidence-packs", SCOPE(CPM_SCOPE_LEDGER_READ), false,
     cpm_api_evidence_packs_get},

    {CPM_POST, "/v1/audiences/filter", SCOPE(CPM_SCOPE_DECISIONS_READ), CPM_BODY_STREAM,
     cpm_api_audiences_filter},

    {CPM_GET, "/v1/ledger/checkpoint", PUBLIC, false, cpm_api_ledger_checkpoint},
    {CPM_GET, "/v1/ledger/key", PUBLIC, false, cpm_api_ledger_key},
    {CPM_GET, "/v1/ledger/proofs/inclusion", SCOPE(CPM_SCOPE_LEDGER_READ), false,
     cpm_api_ledger_inclusion},
    {CPM_GET, "/v1/ledger/proofs/consistency", SCOPE(CPM_SCOPE_LEDGER_READ), false,
     cpm_api_ledger_consistency},
    {CPM_GET, "/v1/ledger/events", SCOPE(CPM_SCOPE_LEDGER_READ), false, cpm_api_ledger_events},
    /* "verify now": the full check in the background, one run at a time (verifications.c) */
    {CPM_POST, "/v1/ledger/verifications", SCOPE(CPM_SCOPE_LEDGER_READ), false,
     cpm_api_ledger_verifications_start},
    {CPM_GET, "/v1/ledger/verifications/latest", SCOPE(CPM_SCOPE_LEDGER_READ), false,
     cpm_api_ledger_verifications_latest},

    /* the dashboard's reports: counts kept by the writer, never the events (reports.c) */
    {CPM_GET, "/v1/reports/consents", SCOPE(CPM_SCOPE_LEDGER_READ), false,
     cpm_api_reports_consents},
    {CPM_GET, "/v1/reports/opt-in", SCOPE(CPM_SCOPE_LEDGER_READ), false, cpm_api_reports_opt_in},
    {CPM_GET, "/v1/reports/withdrawals", SCOPE(CPM_SCOPE_LEDGER_READ), false,
     cpm_api_reports_withdrawals},
    {CPM_GET, "/v1/reports/sync", SCOPE(CPM_SCOPE_LEDGER_READ), false, cpm_api_reports_sync},

    /* streamed, page by page from the store (export.c, docs/IMPORT-EXPORT.md) */
    {CPM_GET, "/v1/export/events", SCOPE(CPM_SCOPE_EXPORT), false, cpm_api_export_events},
    {CPM_GET, "/v1/export/state", SCOPE(CPM_SCOPE_EXPORT), false, cpm_api_export_state},

    {CPM_GET, "/v1/api-keys", SCOPE(CPM_SCOPE_ADMIN), false, cpm_api_keys_list},
    {CPM_POST, "/v1/api-keys", SCOPE(CPM_SCOPE_ADMIN), true, cpm_api_keys_create},
    {CPM_DELETE, "/v1/api-keys/{id}", SCOPE(CPM_SCOPE_ADMIN), false, cpm_api_keys_revoke},
};

_Static_assert(CPM_ARRAY_LEN(cpm_routes) <= CPM_ROUTES_MAX, "raise CPM_ROUTES_MAX (http/router.h)");
const size_t cpm_routes_count = CPM_ARRAY_LEN(cpm_routes);
