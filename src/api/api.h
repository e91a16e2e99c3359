/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api.h — every route handler, one file per resource (src/api/<resource>.c).
 * The route table (routes.c) is the only caller.
 */
#ifndef CPM_API_H
#define CPM_API_H

#include "http/request.h"

/* health.c: probes, metrics and the OpenAPI document */
void cpm_api_healthz(struct cpm_request *req);
void cpm_api_readyz(struct cpm_request *req);
void cpm_api_metrics(struct cpm_request *req);
void cpm_api_openapi(struct cpm_request *req);

/* config_resource.c: properties, purposes, notices and policies share one CRUD shape */
void cpm_api_properties_list(struct cpm_request *req);
void cpm_api_properties_create(struct cpm_request *req);
void cpm_api_properties_get(struct cpm_request *req);
void cpm_api_properties_patch(struct cpm_request *req);
void cpm_api_purposes_list(struct cpm_request *req);
void cpm_api_purposes_create(struct cpm_request *req);
void cpm_api_purposes_get(struct cpm_request *req);
void cpm_api_purposes_patch(struct cpm_request *req);
void cpm_api_notices_list(struct cpm_request *req);
void cpm_api_notices_create(struct cpm_request *req);
void cpm_api_notices_get(struct cpm_request *req);
void cpm_api_notices_patch(struct cpm_request *req);
void cpm_api_policies_list(struct cpm_request *req);
void cpm_api_policies_create(struct cpm_request *req);
void cpm_api_policies_get(struct cpm_request *req);
void cpm_api_policies_patch(struct cpm_request *req);
/* policy_preview.c: a draft policy's experience, nothing saved */
void cpm_api_policies_preview(struct cpm_request *req);
void cpm_api_topics_list(struct cpm_request *req);
void cpm_api_topics_create(struct cpm_request *req);
void cpm_api_topics_get(struct cpm_request *req);
void cpm_api_topics_patch(struct cpm_request *req);
void cpm_api_channels_list(struct cpm_request *req);
void cpm_api_channels_create(struct cpm_request *req);
void cpm_api_channels_get(struct cpm_request *req);
void cpm_api_channels_patch(struct cpm_request *req);
void cpm_api_destinations_list(struct cpm_request *req);
void cpm_api_destinations_create(struct cpm_request *req);
void cpm_api_destinations_get(struct cpm_request *req);
void cpm_api_destinations_patch(struct cpm_request *req);
void cpm_api_destinations_delete(struct cpm_request *req);
void cpm_api_destinations_replay(struct cpm_request *req);
void cpm_api_destinations_test(struct cpm_request *req);
void cpm_api_destinations_deliveries(struct cpm_request *req);
void cpm_api_subject_deliveries(struct cpm_request *req);
void cpm_api_subject_displays_record(struct cpm_request *req);
void cpm_api_inbound_sms(struct cpm_request *req);
void cpm_api_experience(struct cpm_request *req);
/* experience.c: the experience a validated draft policy would give anyone (borrowed; *out owned) */
cpm_err cpm__experience_preview(struct cpm_request *req, const json_t *policy, json_t **out);
void cpm_api_widget_file(struct cpm_request *req);
void cpm_api_demo_index(struct cpm_request *req);
void cpm_api_demo_file(struct cpm_request *req);
void cpm_api_center_index(struct cpm_request *req);
void cpm_api_center_file(struct cpm_request *req);
void cpm_api_admin_index(struct cpm_request *req);
void cpm_api_admin_file(struct cpm_request *req);
void cpm_api_lib_file(struct cpm_request *req);
/*
 * Records body (a consent action, taken) for subject id and answers like
 * POST /v1/subjects/{id}/consents; on a resumed request (req->pending set)
 * goes on with the one already started (id and body are then unused).
 */
void cpm_api_consents_record_action(struct cpm_request *req, const char *id, json_t *body);
/* destinations.c, for config_resource.c: a new destination's defaults, secret and start. */
void cpm_api_destination_complete(struct cpm_request *req, json_t *doc);
/* Hides the secret (unless just created) and adds the live delivery figures. */
void cpm_api_destination_present(struct cpm_request *req, json_t *doc, bool created);

/* notice_versions.c: publishing and reading immutable versions */
void cpm_api_notice_versions_publish(struct cpm_request *req);
void cpm_api_notice_versions_list(struct cpm_request *req);
void cpm_api_notice_versions_get(struct cpm_request *req);
/* notice_reconsent.c: how many subjects a material change would send back to re-consent */
void cpm_api_notice_reconsent(struct cpm_request *req);

/* api_keys.c */
void cpm_api_keys_list(struct cpm_request *req);
void cpm_api_keys_create(struct cpm_request *req);
void cpm_api_keys_revoke(struct cpm_request *req);

/* consents.c: consent actions and current consents */
void cpm_api_consents_record(struct cpm_request *req);
void cpm_api_consents_list(struct cpm_request *req);
void cpm_api_preferences_get(struct cpm_request *req);
void cpm_api_preferences_put(struct cpm_request *req);
void cpm_api_preferences_patch(struct cpm_request *req);
void cpm_api_contacts_record(struct cpm_request *req);
void cpm_api_decide_get(struct cpm_request *req);
void cpm_api_decide_post(struct cpm_request *req);

/* audiences.c: which of a streamed list of subjects may be contacted (a CPM_BODY_STREAM route) */
void cpm_api_audiences_filter(struct cpm_request *req);

/* subjects.c: age status, identifiers, guardians, lookup, erasure */
void cpm_api_subjects_find(struct cpm_request *req);
void cpm_api_subjects_get(struct cpm_request *req);
void cpm_api_subjects_put(struct cpm_request *req);
void cpm_api_subjects_erase(struct cpm_request *req);
void cpm_api_subject_identities_link(struct cpm_request *req);
void cpm_api_subject_guardians_link(struct cpm_request *req);
void cpm_api_subject_wards_list(struct cpm_request *req);

/* devices.c: anonymous visitors' devices, merged into the person at login */
void cpm_api_devices_create(struct cpm_request *req);
/* Merges the device of body ({type: "device", device_token}, taken) into subject id; answers. */
void cpm_api_device_merge(struct cpm_request *req, const char *id, json_t *body);

/* rights.c: data subjects' rights requests (PIPL Art. 44–50) and the operators' queue */
void cpm_api_subject_requests_create(struct cpm_request *req);
void cpm_api_subject_requests_list(struct cpm_request *req);
void cpm_api_requests_queue(struct cpm_request *req);
void cpm_api_requests_get(struct cpm_request *req);
void cpm_api_requests_patch(struct cpm_request *req);

/* otp.c: one-time codes before a sensitive consent */
void cpm_api_otp_challenges_create(struct cpm_request *req);
void cpm_api_otp_challenges_verify(struct cpm_request *req);

/* events.c: pages of ledger events */
void cpm_api_subject_events(struct cpm_request *req);
void cpm_api_ledger_events(struct cpm_request *req);

/* receipts.c: one consent event as an ISO/IEC TS 27560-style receipt */
void cpm_api_subject_receipt(struct cpm_request *req);

/* evidence.c: a subject's offline-verifiable proof bundle */
void cpm_api_subject_evidence(struct cpm_request *req);

/* evidence_packs.c: an evidence pack (tar) of a subject or a time range, for regulators */
void cpm_api_evidence_packs_get(struct cpm_request *req);

/* admin.c: the admin console's sign-in sessions (http/session.h, docs/ADMIN.md) */
void cpm_api_admin_sessions_create(struct cpm_request *req);
void cpm_api_admin_sessions_current(struct cpm_request *req);
void cpm_api_admin_sessions_end(struct cpm_request *req);

/* export.c: the ledger's events and the current consent states, streamed as NDJSON or CSV */
void cpm_api_export_events(struct cpm_request *req);
void cpm_api_export_state(struct cpm_request *req);

/* ledger.c: checkpoints, the verifier key, proofs */
void cpm_api_ledger_checkpoint(struct cpm_request *req);
void cpm_api_ledger_key(struct cpm_request *req);
void cpm_api_ledger_inclusion(struct cpm_request *req);
void cpm_api_ledger_consistency(struct cpm_request *req);

/* verifications.c: the full ledger check, run in the background on request */
void cpm_api_ledger_verifications_start(struct cpm_request *req);
void cpm_api_ledger_verifications_latest(struct cpm_request *req);

/* reports.c: the dashboard's counts, read from the counts the writer keeps (docs/REPORTS.md) */
void cpm_api_reports_consents(struct cpm_request *req);
void cpm_api_reports_opt_in(struct cpm_request *req);
void cpm_api_reports_withdrawals(struct cpm_request *req);
void cpm_api_reports_sync(struct cpm_request *req);

#endif /* CPM_API_H */
