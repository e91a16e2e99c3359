/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sms_reply.h — what a person's SMS reply means: the opt-out keywords
 * Chinese marketing SMS carry ("回T退订", "退订回TD") and their spellings.
 *
 * Pure; reentrant.
 */
#ifndef CPM_DOMAIN_SMS_REPLY_H
#define CPM_DOMAIN_SMS_REPLY_H

#include "core/common.h"

#define CPM_SMS_TEXT_BYTES_MAX 1024 /* an inbound message's text, UTF-8 */

/*
 * True when text, normalised, is an opt-out: "TD", "T", "N", "R" or "退订".
 * Normalising folds full-width ASCII (Ｔ Ｄ) and the ideographic space to
 * ASCII, case to upper, and drops spaces and trailing punctuation
 * (".", "。", "!", "！"), so " ｔｄ。" is "TD". Anything else — longer
 * sentences included — is not an opt-out.
 */
bool cpm_sms_reply_is_opt_out(const char *text);

#endif /* CPM_DOMAIN_SMS_REPLY_H */
