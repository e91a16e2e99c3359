// SPDX-License-Identifier: Apache-2.0
// The consent popup's logic without a DOM: see README.md beside this file.

// 'fixed': necessary or on another legal basis (always on, never sent);
// 'separate': needs its own act; 'consent': an ordinary consent purpose.
export const kind = (p) =>
  p.necessary || p.legal_basis !== 'consent' ? 'fixed' : p.separate ? 'separate' : 'consent';

const gpcMatch = (p) => p.id.indexOf('ads.') === 0 || p.id.indexOf('sale') >= 0;

export function createConsentCore(o) {
  const { base = '', property, region, token, storage, channel = 'web', gpc = false } = o;
  const get = o.fetch || ((...a) => globalThis.fetch(...a));
  let locale = o.locale;
  const state = { experience: null, decisions: {}, gpc: {}, display: null, otp: null, device: null };
  let displaying = null; // the display being recorded, awaited by submit
  let identified = null; // the device step, once per core
  const KEY = `cpm.device.${property}`;
  const handlers = {};
  const emit = (name, v) => (handlers[name] || []).slice().forEach((fn) => fn(v));
  // A person's token, else an anonymous visitor's device credential.
  const auth = () => (token ? `Bearer ${token}` : state.device && `Device ${state.device}`);
  const headers = (h) => (auth() ? Object.assign(h, { Authorization: auth() }) : h);

  // quiet: a refusal the person can put right (a mistyped code) is not an 'error' event.
  async function call(path, init, quiet) {
    try {
      const res = await get(base + path, init);
      const body = await res.json().catch(() => null);
      if (!res.ok) {
        const msg = (body && (body.detail || body.title)) || `HTTP ${res.status}`;
        throw Object.assign(new Error(msg), { status: res.status, problem: body });
      }
      return body;
    } catch (e) {
      if (e.status === 409 && state.device) forget(); // merged at login, or erased: a new one next time
      if (!(quiet && e.status === 422)) emit('error', e);
      throw e;
    }
  }

  function forget() {
    state.device = null;
    return storage.remove(KEY);
  }

  const post = (path, rec, quiet) =>
    call(
      path,
      {
        method: 'POST',
        headers: headers({ Accept: 'application/json', 'Content-Type': 'application/json' }),
        body: JSON.stringify(rec),
      },
      quiet,
    );

  // Without a token: the device credential kept in storage, or a new one.
  // With a token: a device kept from before the login is merged into the
  // person, then forgotten (kept when cpmd could not be reached, to retry).
  async function identify() {
    const kept = await storage.get(KEY);
    if (!token) {
      state.device = kept || (await post('/v1/devices', { property })).device_token;
      if (!kept) await storage.set(KEY, state.device);
    } else if (kept) {
      const done = await post('/v1/subjects/me/identities', { type: 'device', device_token: kept }).then(
        () => true,
        (e) => e.status >= 400 && e.status < 500 && e.status !== 429,
      );
      if (done) await forget();
    }
  }

  // The consent purposes to decide now: for a known person, those the
  // experience asks again (reasons); for anyone else, all of them.
  function asked(x) {
    const why = x.subject ? x.reasons.map((r) => r.purpose) : null;
    return x.purposes.filter((p) => kind(p) !== 'fixed' && (!why || why.indexOf(p.id) >= 0));
  }

  function need() {
    if (!state.experience) throw new Error('load() first');
    return state.experience;
  }

  async function load() {
    if (storage && !identified && !o.experience) identified = identify().catch(() => {}); // else a preview
    await identified;
    const q = new URLSearchParams({ property });
    if (region) q.set('region', region);
    if (locale) q.set('locale', locale);
    if (auth()) q.set('subject', 'me');
    // o.experience: an operator's preview (README.md), from a draft: nothing fetched here, nothing recorded
    const x = await (o.experience ? o.experience(locale) : call(`/v1/experience?${q}`, { headers: headers({ Accept: 'application/json' }) }));
    const before = state.decisions;
    const refuseAds = (gpc || x.gpc_signal) && x.gpc === 'refuse_sale_and_ads';
    state.experience = x;
    state.decisions = {};
    state.gpc = {};
    for (const p of asked(x)) {
      state.decisions[p.id] = before[p.id] === true;
      if (refuseAds && gpcMatch(p)) state.gpc[p.id] = true;
    }
    emit('ready', x);
    return x;
  }

  function choose(id, given) {
    if (!(id in state.decisions)) throw new Error(`'${id}' is not asked`);
    state.decisions[id] = !!given;
  }

  function groups() {
    const g = { consent: [], separate: [], fixed: [] };
    for (const p of need().purposes) {
      const k = kind(p);
      if (k === 'fixed' || p.id in state.decisions) g[k].push(p);
    }
    return g;
  }

  function body(method) {
    const x = need();
    const n = x.notice;
    const b = { property, channel, locale: x.locale };
    if (region) b.region = region;
    b.method = method;
    b.notice = { id: n.id, version: n.version, sha256: n.sha256 };
    if (state.display) b.display = state.display;
    if (state.otp && state.otp.verified) b.otp = { challenge: state.otp.id };
    b.decisions = asked(x).map((p) => {
      const given = state.decisions[p.id];
      const d = { purpose: p.id, decision: given ? 'given' : 'refused' };
      if (given && p.separate) d.separate = true;
      return d;
    });
    return b;
  }

  // Each display is a ledger event (with a token or a device); the consent then points to it.
  function shown() {
    const x = need();
    emit('shown', x);
    if (!auth() || o.experience) return Promise.resolve(null);
    const rec = { property, locale: x.locale, notice: { id: x.notice.id, version: x.notice.version }, channel };
    if (x.policy) rec.policy = x.policy;
    displaying = post('/v1/subjects/me/displays', rec).then((r) => (state.display = r.display), () => null);
    return displaying;
  }

  // A policy may ask a one-time code before anything is given (refusing never needs one).
  function needsOtp() {
    const x = need();
    return !!x.otp_required && !(state.otp && state.otp.verified) && asked(x).some((p) => state.decisions[p.id]);
  }

  async function otpStart() {
    const c = await post('/v1/otp/challenges', {});
    state.otp = { id: c.id, sent_to: c.sent_to, expires_at: c.expires_at, verified: false };
    return c;
  }

  async function otpVerify(code) {
    if (!state.otp) throw new Error('otpStart() first');
    const r = await post(`/v1/otp/challenges/${encodeURIComponent(state.otp.id)}/verify`, { code: String(code) }, true);
    state.otp.verified = true;
    return r;
  }

  async function submit({ method = 'click' } = {}) {
    await displaying;
    const b = body(method);
    if (!b.decisions.length || o.experience) return null;
    const answer = await post('/v1/subjects/me/consents', b);
    state.otp = null;
    emit('updated', answer);
    return answer;
  }

  return {
    state,
    load,
    choose,
    groups,
    body,
    submit,
    acceptAll() {
      for (const p of asked(need())) if (!p.separate && !state.gpc[p.id]) state.decisions[p.id] = true;
    },
    refuseAll() {
      for (const id in state.decisions) state.decisions[id] = false;
    },
    setLocale(tag) {
      locale = tag;
      return load();
    },
    shown,
    needsOtp,
    otpStart,
    otpVerify,
    on(name, fn) {
      (handlers[name] = handlers[name] || []).push(fn);
      return () => {
        handlers[name] = handlers[name].filter((f) => f !== fn);
      };
    },
  };
}
