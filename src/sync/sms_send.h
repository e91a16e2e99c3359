/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sms_send.h — sending one text message through an sms_gateway
 * destination, synchronously, from the thread that asks (the one-time
 * codes of POST /v1/otp/challenges). The contract is the sms_gateway
 * kind's (src/sync/sms_gateway.c, "Messages").
 */
#ifndef CPM_SYNC_SMS_SEND_H
#define CPM_SYNC_SMS_SEND_H

#include <jansson.h>

#include "core/common.h"
#include "core/detail.h"

struct cpm_outbound_guard;

/*
 * Sends the "otp" template with code to phone (E.164) through dest, an
 * sms_gateway destination document whose secret is already opened
 * (cpm_config_secrets_open); message_id is the challenge id, sent as
 * message_id and Idempotency-Key. Waits for the answer, at most the
 * destination's timeout_ms (default 10 s). CPM_OK on a 2xx;
 * CPM_ERR_UNAVAILABLE with why in detail (never the phone or the code)
 * when the gateway refused, failed or did not answer; CPM_ERR_NOMEM.
 * guard is borrowed. Thread safety: any thread.
 */
cpm_err cpm_sms_send_otp(const struct cpm_outbound_guard *guard, const json_t *dest,
                         const char *phone, const char *code, const char *message_id,
                         struct cpm_detail *detail) CPM_MUST_CHECK;

#endif /* CPM_SYNC_SMS_SEND_H */
