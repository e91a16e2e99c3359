/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verifications.c — "verify now": the full ledger check run by cpmd in the
 * background (store/verifier.h), started by POST /v1/ledger/verifications
 * and watched through GET /v1/ledger/verifications/latest. One run at a
 * time; the latest run is kept in memory until the next or a restart.
 */
#include "core/common.h"

#include "api/api.h"
#include "api/support.h"
#include "http/app.h"
#include "store/verifier.h"

static const char *state_name(enum cpm_verify_state state)
{
    switch (state) {
    case CPM_VERIFY_RUNNING:
        return "running";
    case CPM_VERIFY_PASSED:
        return "passed";
    case CPM_VERIFY_FAILED:
        return "failed";
    case CPM_VERIFY_ERROR:
        return "error";
    case CPM_VERIFY_NONE:
        break;
    }
    return "none";
}

static json_t *status_json(const struct cpm_verify_status *s)
{
    json_t *o = json_pack(
        "{s:I, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I}", "run", (json_int_t)s->run, "state",
        state_name(s->state), "requested_by", s->key_id, "started_at", cpm_api_time(s->started_ms),
        "finished_at", s->finished_ms ? cpm_api_time(s->finished_ms) : json_null(), "checked",
        (json_int_t)s->checked, "total", (json_int_t)s->total, "checkpoints",
        (json_int_t)s->result.checkpoints, "latest_checkpoint_size", (json_int_t)s->result.latest);
    if (o != NULL && s->state == CPM_VERIFY_FAILED)
        json_object_set_new(o, "problem",
                            json_pack("{s:s, s:o}", "message", s->result.problem, "seq",
                                      s->result.problem_seq > 0
                                          ? json_integer(s->result.problem_seq)
                                          : json_null()));
    else if (o != NULL && s->state == CPM_VERIFY_ERROR)
        json_object_set_new(o, "problem",
                            json_pack("{s:s, s:n}", "message", cpm_err_message(s->err), "seq"));
    return o;
}

void cpm_api_ledger_verifications_start(struct cpm_request *req)
{
    struct cpm_verify_status s;
    cpm_err err = cpm_verifier_start(req->app->verifier, req->key.id, &s);
    if (err == CPM_ERR_CONFLICT) {
        cpm_respond_problem_with(req, err, NULL,
                                 json_pack("{s:o}", "verification", status_json(&s)));
        return;
    }
    if (err != CPM_OK) {
        cpm_respond_error(req, err, NULL, "the verification could not be started");
        return;
    }
    cpm_respond_json(req, 202, status_json(&s));
    cpm_respond_header(req, "Location", "/v1/ledger/verifications/latest");
}

void cpm_api_ledger_verifications_latest(struct cpm_request *req)
{
    struct cpm_verify_status s;
    cpm_verifier_status(req->app->verifier, &s);
    if (s.state == CPM_VERIFY_NONE)
        cpm_respond_error(req, CPM_ERR_NOT_FOUND, NULL,
                          "no verification has run since cpmd started");
    else
        cpm_respond_json(req, 200, status_json(&s));
}
