// SPDX-License-Identifier: Apache-2.0
// The delivery log, read the way the sync tests need it: outcomes are
// recorded a few milliseconds after the receiver answers, so tests wait for
// the log to say what they expect.
import { request } from '../harness.mjs';

/** A destination's delivery log (oldest first); query like '&status=dead'. */
export async function deliveries(server, key, id, query = '') {
  const res = await request(server, 'GET', `/v1/destinations/${id}/deliveries?limit=200${query}`, { key });
  return res.json.items;
}

/** The delivery log once pred holds for it; throws with the log after tries × 50 ms. */
export async function logWhen(server, key, id, pred, query = '', tries = 100) {
  for (let i = 0; i < tries; i++) {
    const log = await deliveries(server, key, id, query);
    if (pred(log)) return log;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`delivery log of ${id} never matched: ${JSON.stringify(await deliveries(server, key, id, query))}`);
}
