// SPDX-License-Identifier: Apache-2.0
// A fake marketing automation for the ma_journey connector tests: it speaks
// the journey contract documented at the top of src/sync/ma_journey.c and
// checks every request strictly (method, path, bearer token, Content-Type,
// Idempotency-Key === event_id, exactly the contract's fields in the right
// formats: a subject id, a known ledger type, a purpose on exits only, RFC
// 3339 time; nothing else — no personal data). It keeps the subjects
// currently out of their journeys and every reschedule, de-duplicates on
// Idempotency-Key (a repeated key answers 200 without a second effect, and
// is counted), and can be told to fail the next N requests (429 with
// Retry-After, 500, 401, 422 with a message). The HTTP part is
// startBearerJsonFake in fake_sms_gateway.mjs.
import { EVENT_ID, LEDGER_TYPES, PURPOSE_ID, checkFields, isRfc3339, startBearerJsonFake } from './fake_sms_gateway.mjs';

/** A company subject id as cpmd accepts it: 1-128 printable ASCII, no spaces or '/'. */
const SUBJECT = /^[\x21-\x2e\x30-\x7e]{1,128}$/;

const common = {
  subject: { required: true, check: (v) => (typeof v === 'string' && SUBJECT.test(v) ? null : 'must be a subject id') },
  event_id: { required: true, check: (v) => (typeof v === 'string' && EVENT_ID.test(v) ? null : 'must be evt_ + 32 hex digits') },
  event_type: { required: true, check: (v) => (LEDGER_TYPES.has(v) ? null : `unknown event type ${JSON.stringify(v)}`) },
  occurred_at: { required: true, check: (v) => (isRfc3339(v) ? null : 'must be an RFC 3339 date-time') },
};
const EXIT_FIELDS = {
  ...common,
  // "" or absent when the event has no purpose.
  purpose: { required: false, check: (v) => (v === '' || (typeof v === 'string' && PURPOSE_ID.test(v)) ? null : 'must be a purpose id') },
};
const RESCHEDULE_FIELDS = common; // no purpose, and no preferences: the automation reads them itself

/**
 * Starts the fake automation on 127.0.0.1; its endpoint is `url`
 * (http://127.0.0.1:PORT/ma). Besides the shared fields (requests,
 * invalid, replays, attemptsOf, failNext, waitFor, stop):
 *   exited       Map subject → the body of the exit that took them out
 *   reschedules  every first-time reschedule body, in order
 *   effects      every first-time effect: {op: 'exit'|'reschedule', …body}
 */
export async function startFakeMa({ token }) {
  const exited = new Map();
  const reschedules = [];
  const effects = [];
  const fake = await startBearerJsonFake({
    token,
    basePath: '/ma',
    routes: {
      '/journeys/exit': {
        check: (b) => checkFields(b, EXIT_FIELDS),
        apply: (b) => {
          const was = exited.has(b.subject);
          exited.set(b.subject, b);
          effects.push({ op: 'exit', ...b });
          return { exited: true, already: was };
        },
      },
      '/journeys/reschedule': {
        check: (b) => checkFields(b, RESCHEDULE_FIELDS),
        apply: (b) => {
          reschedules.push(b);
          effects.push({ op: 'reschedule', ...b });
          return { rescheduled: true };
        },
      },
    },
  });
  fake.exited = exited;
  fake.reschedules = reschedules;
  fake.effects = effects;
  return fake;
}
