// SPDX-License-Identifier: Apache-2.0
// The admin console's properties: the touchpoints (web, H5, mini-programs,
// apps …) the popup and the center run on — which origins may call cpmd for
// them, which languages they speak, which keys verify their end users'
// tokens (README.md beside this file, docs/CONFIGURATION.md "Property").

import { NAME_BYTES_MAX, SLUG, DURATION, LOCALE, app, t, h, fmt, bytes, splitList, allPages, field, textInput, makeView, editOne, table, cell } from './admin-core.js';
import { W } from './properties-i18n.js';

const w = () => W[app.ui];
/** The menu's label (admin.js). */
export const propertiesLabel = () => W[app.ui].properties;
const KINDS = ['web', 'h5', 'mini_program', 'app', 'wecom', 'crm', 'call_centre', 'other'];
const KTYS = ['oct', 'OKP', 'EC']; // HS256, EdDSA, ES256 (docs/END-USERS.md "Tokens")
const ALG = { oct: 'HS256', OKP: 'EdDSA', EC: 'ES256' };
// https, or http for localhost / 127.0.0.1; a host, an optional port, no path (docs/CONFIGURATION.md)
const ORIGIN = /^(https:\/\/[A-Za-z0-9.-]+|http:\/\/(localhost|127\.0\.0\.1))(:\d{1,5})?$/;
const B64URL = /^[A-Za-z0-9_-]+$/;

export function propertiesScreen() {
  const v = makeView({
    id: 'properties', title: () => w().properties, intro: () => w().intro,
    load: () => allPages('/v1/properties'),
    draw,
  });

  const ed = editOne(v, { form: 'form.property-form', focus: (doc) => (doc ? 'name' : 'id') });

  function draw(items) {
    const tt = t();
    const ww = w();
    if (ed.editing) return propertyForm(ed.editing.doc, ed.editing.draft);
    const rows = items.map((p) => h('tr', { 'data-property': p.id },
      cell(ww.pid, h('code', {}, p.id)),
      cell(ww.name, p.name),
      cell(ww.kind, ww.kinds[p.kind] || p.kind),
      cell(ww.origins, (p.allowed_origins || []).length ? h('ul', { className: 'plain' }, p.allowed_origins.map((o) => h('li', {}, h('code', {}, o)))) : '—'),
      cell(ww.locales, `${(p.locales || []).join(', ')} (${fmt(ww.defaultIs, { locale: p.default_locale })})`),
      cell(ww.tokenKeys, String((p.token_keys || []).length)),
      cell(tt.revision, String(p.revision)),
      cell(tt.actions, ed.editButton(p, fmt(ww.editOne, { id: p.id })))));
    return h('div', {},
      h('div', { className: 'actions' }, ed.newButton(ww.newProperty)),
      items.length === 0 ? h('p', { className: 'empty' }, ww.none)
        : table(ww.properties, [ww.pid, ww.name, ww.kind, ww.origins, ww.locales, ww.tokenKeys, tt.revision, tt.actions], rows));
  }

  function propertyForm(doc, draft) {
    const tt = t();
    const ww = w();
    const isNew = !doc;
    const d = doc || {};
    const f = draft || d;
    const id = textInput('id', { value: f.id || '', disabled: !isNew, required: true });
    const name = textInput('name', { value: f.name || '', maxLength: 400, spellcheck: true });
    const kind = h('select', { 'data-field': 'kind', 'data-key': 'kind' },
      h('option', { value: '' }, tt.choose), KINDS.map((k) => h('option', { value: k, selected: f.kind === k }, ww.kinds[k])));
    const origins = h('textarea', { 'data-field': 'allowed_origins', 'data-key': 'allowed_origins', rows: 3, spellcheck: false,
      value: Array.isArray(f.allowed_origins) ? f.allowed_origins.join('\n') : (f.allowed_origins || '') });
    const locales = textInput('locales', { value: Array.isArray(f.locales) ? f.locales.join(', ') : (f.locales || 'zh-Hans, zh-Hant, en') });
    const defaultLocale = textInput('default_locale', { value: f.default_locale || (isNew ? 'zh-Hans' : '') });
    const lifetime = textInput('token_lifetime_max', { value: f.token_lifetime_max || '', placeholder: 'PT1H' });
    const otp = textInput('otp_destination', { value: f.otp_destination || '' });

    // Token keys: the ones kept (a secret never comes back: k_set) and new ones typed here.
    const keys = (f.token_keys || []).map((k) => Object.assign({}, k));
    const stored = JSON.stringify(d.token_keys || []);
    // changed: the list differs from the stored one (a key added, removed, edited, or a secret typed)
    const keysChanged = () => JSON.stringify(keys) !== stored;
    const keyBox = h('div', { className: 'token-keys' });
    function drawKeys() {
      keyBox.replaceChildren(...keys.map((k, i) => keyRow(k, i)),
        h('div', { className: 'actions' },
          h('button', { type: 'button', className: 'btn secondary small', 'data-key': 'add-key', onclick: () => { keys.push({ kty: 'EC', fresh: true }); drawKeys(); keyBox.querySelector(`[data-key="token_keys[${keys.length - 1}].kty"]`).focus(); } }, ww.addKey)),
        keysChanged() && keys.some((k) => k.k_set) ? h('p', { className: 'note warn-text' }, ww.secretAgain) : null);
    }
    function keyRow(k, i) {
      const path = `token_keys[${i}]`;
      const one = (name, props, label, hint) => field(label, h('input', Object.assign({ type: 'text', 'data-field': `${path}.${name}`, 'data-key': `${path}.${name}`, autocomplete: 'off', spellcheck: false,
        value: k[name] || '', oninput: (e) => { if (e.target.value.trim()) k[name] = e.target.value.trim(); else delete k[name]; } }, props)), hint);
      const kty = h('select', { 'data-field': `${path}.kty`, 'data-key': `${path}.kty`, disabled: !k.fresh,
        onchange: (e) => { k.kty = e.target.value; drawKeys(); keyBox.querySelector(`[data-key="${path}.kty"]`).focus(); } },
      KTYS.map((x) => h('option', { value: x, selected: k.kty === x }, `${x} (${ALG[x]})`)));
      const secretHint = k.k_set ? (keysChanged() ? ww.secretKeep : ww.secretSet) : ww.secretHint;
      return h('fieldset', { className: 'token-key', 'data-field': path },
        h('legend', {}, fmt(ww.keyN, { n: i + 1, alg: ALG[k.kty] || k.kty })),
        field(ww.kty, kty),
        one('kid', {}, ww.kid, ww.kidHint),
        k.kty === 'oct' && one('k', { type: 'password', value: k.k_set ? '' : (k.k || '') }, ww.secret, secretHint),
        k.kty === 'OKP' && one('x', {}, ww.publicX, ww.okpHint),
        k.kty === 'EC' && [one('x', {}, ww.publicX, ww.ecHint), one('y', {}, ww.publicY)],
        h('div', { className: 'actions' },
          h('button', { type: 'button', className: 'btn danger small', 'data-key': `remove-key:${i}`, 'aria-label': fmt(ww.removeKeyN, { n: i + 1 }),
            onclick: () => { keys.splice(i, 1); drawKeys(); el.querySelector('[data-key="add-key"]').focus(); } }, ww.removeKey)));
    }
    drawKeys();

    const el = h('form', { className: 'property-form config-form', noValidate: true, 'data-mode': isNew ? 'create' : 'edit',
      onsubmit: (e) => { e.preventDefault(); save(); } },
    h('h3', { tabIndex: -1, 'data-key': 'form-h' }, isNew ? ww.newProperty : fmt(ww.editProperty, { id: d.id })),
    h('div', { className: 'form-errors', tabIndex: -1 }),
    field(ww.pid, id, isNew ? ww.pidHint : ww.pidFixed),
    field(ww.name, name),
    field(ww.kind, kind),
    field(ww.origins, origins, ww.originsHint),
    h('div', { className: 'pair' }, field(ww.locales, locales, ww.localesHint), field(ww.defaultLocale, defaultLocale, ww.defaultLocaleHint)),
    h('fieldset', { 'data-field': 'token_keys' }, h('legend', {}, ww.tokenKeys), h('p', { className: 'note' }, ww.tokenKeysHint), keyBox),
    h('div', { className: 'pair' }, field(ww.lifetime, lifetime, ww.lifetimeHint), field(ww.otpDestination, otp, ww.otpDestinationHint)),
    ed.formButtons());

    /** The property as the form says, and the faults the page can see itself. */
    function read() {
      const faults = [];
      const out = {};
      const need = (path, ok, message) => { if (!ok) faults.push({ field: path, message }); };
      out.id = isNew ? id.value.trim() : d.id;
      if (isNew) need('id', SLUG.test(out.id), out.id ? tt.slugRule : tt.required);
      out.name = name.value.trim();
      need('name', out.name, tt.required);
      if (bytes(out.name) > NAME_BYTES_MAX) faults.push({ field: 'name', message: fmt(tt.tooLong, { n: NAME_BYTES_MAX }) });
      out.kind = kind.value;
      need('kind', out.kind, tt.required);
      out.allowed_origins = splitList(origins.value);
      out.allowed_origins.forEach((o) => need('allowed_origins', ORIGIN.test(o), fmt(ww.originRule, { value: o })));
      out.locales = splitList(locales.value);
      need('locales', out.locales.length, tt.required);
      out.locales.forEach((l) => need('locales', LOCALE.test(l), fmt(ww.localeRule, { value: l })));
      need('locales', new Set(out.locales).size === out.locales.length, ww.localeTwice);
      out.default_locale = defaultLocale.value.trim();
      need('default_locale', out.locales.includes(out.default_locale), ww.defaultOfLocales);
      const life = lifetime.value.trim();
      if (life) { need('token_lifetime_max', DURATION.test(life), tt.durationRule); out.token_lifetime_max = life; }
      const dest = otp.value.trim();
      if (dest) { need('otp_destination', SLUG.test(dest), tt.slugRule); out.otp_destination = dest; }
      // keys are checked when they are sent: on a new property, or once the list was changed
      out.token_keys = !isNew && !keysChanged() ? d.token_keys : keys.map((k, i) => {
        const path = `token_keys[${i}]`;
        const jwk = { kty: k.kty };
        if (k.kid) jwk.kid = k.kid;
        jwk.alg = ALG[k.kty];
        if (keys.length > 1) need(`${path}.kid`, k.kid, ww.kidNeeded);
        if (k.kty === 'oct') {
          const secret = k.k || ''; // 32-64 bytes in base64url: 43-86 characters
          if (k.k_set && !secret) need(`${path}.k`, false, ww.secretAgain);
          else need(`${path}.k`, B64URL.test(secret) && secret.length >= 43 && secret.length <= 86, ww.secretRule);
          jwk.k = secret;
        } else {
          if (k.kty === 'OKP') jwk.crv = 'Ed25519';
          if (k.kty === 'EC') jwk.crv = 'P-256';
          need(`${path}.x`, B64URL.test(k.x || ''), ww.encodedRule);
          jwk.x = k.x;
          if (k.kty === 'EC') { need(`${path}.y`, B64URL.test(k.y || ''), ww.encodedRule); jwk.y = k.y; }
        }
        return jwk;
      });
      // a new property without keys sends no list; on an edit, keys untouched stay as stored,
      // their secrets included: the merge patch leaves the list out
      if (isNew && !out.token_keys.length) delete out.token_keys;
      return { faults, out };
    }

    el.snapshot = () => ({
      id: id.value, name: name.value, kind: kind.value, allowed_origins: origins.value, locales: locales.value,
      default_locale: defaultLocale.value, token_lifetime_max: lifetime.value, otp_destination: otp.value, token_keys: keys,
    });

    function save() {
      return ed.save(el, read, { collection: 'properties', old: isNew ? null : d, words: ww });
    }
    return el;
  }
  return v;
}
