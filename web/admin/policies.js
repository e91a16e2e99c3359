// SPDX-License-Identifier: Apache-2.0
// The admin console's policies: what the popup asks on a property in a
// region — the purposes, how long a consent lasts, when a refusal may be
// asked again, a one-time code, minors, the popup's colours and texts —
// with a live preview of the popup beside the form (README.md beside this
// file, docs/ADMIN.md "Policies", docs/CONFIGURATION.md "Policy").
//
// The preview is the real popup: web/widget/cpm-widget.js mounted in a
// shadow root with the `experience` option (web/widget/README.md "A
// preview"), fed by POST /v1/policies/preview, which runs GET
// /v1/experience's own code on the unsaved draft. Nothing is recorded.

import { TEXT_LOCALES, STRING_BYTES_MAX, SLUG, DURATION, app, t, h, fmt, bytes, localised, call, allPages, field, checkbox, textInput, makeView, editOne, table, cell } from './admin-core.js';
import { W } from './policies-i18n.js';

const w = () => W[app.ui];
/** The menu's label (admin.js). */
export const policiesLabel = () => W[app.ui].policies;
const REGION = /^(\*|[A-Z]{2}(-[A-Z0-9]{1,3})?)$/;
const GPC = ['refuse_sale_and_ads', 'ignore'];
const TEXT_KEYS = ['title', 'accept', 'refuse', 'settings'];
// the popup's own colours (cpm-widget.js): white button text, #222 body text
const BUTTON_TEXT = '#ffffff';
const BODY_TEXT = '#222222';
const DEFAULT_THEME = { primary_color: '#1f6feb', background_color: '#ffffff' };
const CONTRAST_MIN = 4.5; // WCAG 2.x AA for body text
const PREVIEW_DELAY_MS = 250;

/** WCAG 2.x contrast ratio of two #rrggbb colours. */
export function contrast(a, b) {
  const lum = (hex) => {
    const [r, g, bl] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
      .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

export function policiesScreen() {
  let leaveTimer = () => {};
  const v = makeView({
    id: 'policies', title: () => w().policies, intro: () => w().intro,
    load: async () => {
      const [policies, properties, purposes, notices] = await Promise.all(
        ['policies', 'properties', 'purposes', 'notices'].map((c) => allPages(`/v1/${c}`)));
      return { policies, properties, purposes, notices };
    },
    draw,
  });
  v.leave = () => leaveTimer();
  // ed.editing also holds the preview's locale
  const ed = editOne(v, { form: 'form.policy-form', focus: (doc) => (doc ? 'region' : 'id'), onClose: () => leaveTimer() });

  function draw(data) {
    const tt = t();
    const ww = w();
    if (ed.editing) return editor(data, ed.editing.doc, ed.editing.draft);
    const sorted = data.policies.slice().sort((a, b) => a.property.localeCompare(b.property) || a.region.localeCompare(b.region));
    const rows = sorted.map((p) => h('tr', { 'data-policy': p.id },
      cell(ww.property, h('code', {}, p.property)),
      cell(ww.region, p.region === '*' ? ww.anyRegion : p.region),
      cell(ww.pid, h('code', {}, p.id)),
      cell(ww.notice, h('code', {}, p.notice)),
      cell(ww.purposes, String(p.purposes.length)),
      cell(ww.validity, p.consent_validity ? h('code', {}, p.consent_validity) : ww.noExpiry),
      cell(ww.cooldown, p.refusal_cooldown ? h('code', {}, p.refusal_cooldown) : '—'),
      cell(ww.otp, p.otp_required ? tt.yes : tt.no),
      cell(tt.revision, String(p.revision)),
      cell(tt.actions, ed.editButton(p, fmt(ww.editOne, { id: p.id })))));
    return h('div', {},
      h('div', { className: 'actions' }, ed.newButton(ww.newPolicy)),
      sorted.length === 0 ? h('p', { className: 'empty' }, ww.none)
        : table(ww.policies, [ww.property, ww.region, ww.pid, ww.notice, ww.purposes, ww.validity, ww.cooldown, ww.otp, tt.revision, tt.actions], rows));
  }

  function editor(data, doc, draft) {
    const form = policyForm(data, doc, draft);
    const preview = previewPanel(form, data);
    form.addEventListener('input', preview.schedule);
    form.addEventListener('change', preview.schedule);
    preview.update();
    return h('div', { className: 'policy-edit' }, form, preview.el);
  }

  function policyForm(data, doc, draft) {
    const tt = t();
    const ww = w();
    const isNew = !doc;
    const d = doc || {};
    const f = draft || d;
    const select = (name, options, value) => h('select', { 'data-field': name, 'data-key': name },
      h('option', { value: '' }, tt.choose), options.map(([val, label]) => h('option', { value: val, selected: value === val }, label)));
    const id = textInput('id', { value: f.id || '', disabled: !isNew });
    const property = select('property', data.properties.map((p) => [p.id, `${p.name} (${p.id})`]), f.property);
    const region = textInput('region', { value: f.region || '', placeholder: 'CN, CN-HK, *' });
    const notice = select('notice', data.notices.map((n) => [n.id, `${n.name} (${n.id})`]), f.notice);
    const validity = textInput('consent_validity', { value: f.consent_validity || '', placeholder: 'P12M' });
    const reminder = textInput('reminder_before', { value: f.reminder_before || '', placeholder: 'P30D' });
    const cooldown = textInput('refusal_cooldown', { value: f.refusal_cooldown || '', placeholder: 'P30D' });
    const otp = h('input', { type: 'checkbox', checked: !!f.otp_required, 'data-field': 'otp_required', 'data-key': 'otp_required' });
    const guardian = h('input', { type: 'number', min: 1, max: 18, step: 1, value: String(f.guardian_age_below || 14), 'data-field': 'guardian_age_below', 'data-key': 'guardian_age_below', className: 'narrow' });
    const gpc = select('gpc', GPC.map((g) => [g, ww.gpcModes[g]]), f.gpc || 'refuse_sale_and_ads');

    // purposes: the policy's own first, in its order (the popup's order), then the others
    const chosen = new Map((f.purposes || []).map((p) => [p.purpose, !!p.default]));
    const byId = new Map(data.purposes.map((p) => [p.id, p]));
    const order = [...chosen.keys()].filter((k) => byId.has(k)).concat(data.purposes.map((p) => p.id).filter((k) => !chosen.has(k)));
    const purposeRows = order.map((pid) => {
      const p = byId.get(pid);
      const consent = p.legal_basis === 'consent';
      const asked = h('input', { type: 'checkbox', checked: chosen.has(pid), 'data-key': `purpose:${pid}`, 'data-purpose': pid });
      const pre = h('input', { type: 'checkbox', checked: !consent && chosen.get(pid) === true, disabled: consent, 'data-key': `default:${pid}` });
      const row = h('li', { className: 'policy-purpose', 'data-purpose-row': pid },
        checkbox([localised(p.name, pid), ' ', h('code', {}, pid)], asked, consent ? ww.consentPurpose : ww.otherBasis),
        h('div', { className: 'field check sub-check' }, pre, h('label', { for: pre.id || (pre.id = `pre-${pid}`) }, ww.preTicked)));
      return { pid, asked, pre, row };
    });

    // the popup's colours: unset means the popup's own; a warning below 4.5:1
    const theme = (f.ui && f.ui.theme) || {};
    const colour = (key) => {
      const own = h('input', { type: 'checkbox', checked: !!theme[key], 'data-key': `own:${key}` });
      const pick = h('input', { type: 'color', value: theme[key] || DEFAULT_THEME[key], disabled: !theme[key], 'data-field': `ui.theme.${key}`, 'data-key': `ui.theme.${key}` });
      own.addEventListener('change', () => { pick.disabled = !own.checked; });
      return { key, own, pick };
    };
    const primary = colour('primary_color');
    const background = colour('background_color');
    const warning = h('div', { className: 'contrast-warnings', 'aria-live': 'polite' });
    const checkContrast = () => {
      const warns = [];
      const p = primary.own.checked ? primary.pick.value : DEFAULT_THEME.primary_color;
      const b = background.own.checked ? background.pick.value : DEFAULT_THEME.background_color;
      const onButton = contrast(BUTTON_TEXT, p);
      const onBackground = contrast(BODY_TEXT, b);
      if (onButton < CONTRAST_MIN) warns.push(['primary_color', fmt(ww.lowButtonContrast, { ratio: onButton.toFixed(2) })]);
      if (onBackground < CONTRAST_MIN) warns.push(['background_color', fmt(ww.lowTextContrast, { ratio: onBackground.toFixed(2) })]);
      warning.replaceChildren(...warns.map(([k, text]) => h('p', { className: 'warn-text contrast-warning', 'data-contrast': k }, text)));
    };
    [primary, background].forEach((c) => { c.pick.addEventListener('input', checkContrast); c.own.addEventListener('change', checkContrast); });
    checkContrast();

    // the popup's texts per language: the UI's three and any other the policy has
    const texts = (f.ui && f.ui.texts) || {};
    const locales = [...new Set([...TEXT_LOCALES, ...TEXT_KEYS.flatMap((k) => Object.keys(texts[k] || {}))])];
    const textInputs = TEXT_KEYS.map((k) => ({
      key: k,
      inputs: locales.map((l) => textInput(`ui.texts.${k}.${l}`, { value: (texts[k] && texts[k][l]) || '', lang: l, spellcheck: true })),
    }));

    const el = h('form', { className: 'policy-form config-form', noValidate: true, 'data-mode': isNew ? 'create' : 'edit',
      onsubmit: (e) => { e.preventDefault(); save(); } },
    h('h3', { tabIndex: -1, 'data-key': 'form-h' }, isNew ? ww.newPolicy : fmt(ww.editPolicy, { id: d.id })),
    h('div', { className: 'form-errors', tabIndex: -1 }),
    field(ww.pid, id, isNew ? ww.pidHint : ww.pidFixed),
    h('div', { className: 'pair' }, field(ww.property, property, ww.propertyHint), field(ww.region, region, ww.regionHint)),
    field(ww.notice, notice, ww.noticeHint),
    h('fieldset', { 'data-field': 'purposes' }, h('legend', {}, ww.purposesAsked), h('p', { className: 'note' }, ww.purposesHint),
      data.purposes.length ? h('ul', { className: 'plain policy-purposes' }, purposeRows.map((r) => r.row)) : h('p', { className: 'empty' }, ww.noPurposes)),
    h('fieldset', {}, h('legend', {}, ww.timing),
      h('div', { className: 'pair' }, field(ww.validity, validity, ww.validityHint), field(ww.reminder, reminder, ww.reminderHint)),
      field(ww.cooldown, cooldown, ww.cooldownHint)),
    h('fieldset', {}, h('legend', {}, ww.safeguards),
      checkbox(ww.otpRequired, otp, ww.otpHint),
      field(ww.guardianAge, guardian, ww.guardianHint),
      field(ww.gpc, gpc, ww.gpcHint)),
    h('fieldset', { 'data-field': 'ui.theme' }, h('legend', {}, ww.theme),
      [primary, background].map((c) => h('div', { className: 'colour-row' },
        checkbox(ww.ownColour[c.key], c.own),
        field(ww.colour[c.key], c.pick, ww.colourHint[c.key]))),
      warning),
    h('fieldset', { 'data-field': 'ui.texts' }, h('legend', {}, ww.texts), h('p', { className: 'note' }, ww.textsHint),
      textInputs.map(({ key, inputs }) => h('fieldset', { className: 'text-group', 'data-field': `ui.texts.${key}` }, h('legend', {}, ww.textKeys[key]),
        key === 'settings' ? h('p', { className: 'note' }, ww.settingsHint) : null,
        locales.map((l, i) => field(tt.localeNames[l] || l, inputs[i]))))),
    ed.formButtons());

    /** The policy as the form says (a whole document), and the faults the page can see itself. */
    el.read = () => {
      const faults = [];
      const need = (path, ok, message) => { if (!ok) faults.push({ field: path, message }); };
      const out = {};
      const idText = isNew ? id.value.trim() : d.id;
      if (idText) out.id = idText;
      out.region = region.value.trim();
      need('region', REGION.test(out.region), out.region ? ww.regionRule : tt.required);
      out.property = property.value;
      need('property', out.property, tt.required);
      out.notice = notice.value;
      need('notice', out.notice, tt.required);
      out.purposes = [];
      purposeRows.forEach((r) => {
        if (!r.asked.checked) return r.row.removeAttribute('data-field');
        r.row.setAttribute('data-field', `purposes[${out.purposes.length}]`); // where the server's faults land
        out.purposes.push({ purpose: r.pid, default: !r.pre.disabled && r.pre.checked });
      });
      need('purposes', out.purposes.length, ww.onePurpose);
      [['consent_validity', validity], ['reminder_before', reminder], ['refusal_cooldown', cooldown]].forEach(([k, control]) => {
        const s = control.value.trim();
        if (!s) return;
        need(k, DURATION.test(s), tt.durationRule);
        out[k] = s;
      });
      need('reminder_before', !out.reminder_before || out.consent_validity, ww.reminderNeedsValidity);
      out.otp_required = otp.checked;
      out.guardian_age_below = Number(guardian.value);
      need('guardian_age_below', Number.isInteger(out.guardian_age_below) && out.guardian_age_below >= 1 && out.guardian_age_below <= 18, ww.guardianRule);
      out.gpc = gpc.value || 'refuse_sale_and_ads';
      const ui = {};
      const th = {};
      [primary, background].forEach((c) => { if (c.own.checked) th[c.key] = c.pick.value; });
      if (Object.keys(th).length) ui.theme = th;
      const tx = {};
      textInputs.forEach(({ key, inputs }) => {
        const m = {};
        inputs.forEach((control, i) => {
          const s = control.value.trim();
          if (!s) return;
          if (bytes(s) > STRING_BYTES_MAX) faults.push({ field: `ui.texts.${key}.${locales[i]}`, message: fmt(tt.tooLong, { n: STRING_BYTES_MAX }) });
          m[locales[i]] = s;
        });
        if (Object.keys(m).length) tx[key] = m;
      });
      if (Object.keys(tx).length) ui.texts = tx;
      if (Object.keys(ui).length) out.ui = ui;
      if (isNew) need('id', SLUG.test(idText), idText ? tt.slugRule : tt.required);
      return { faults, out };
    };

    /** What is typed, to draw the form again in another language. */
    el.snapshot = () => {
      const { out } = el.read();
      out.id = id.value;
      out.region = region.value;
      out.guardian_age_below = guardian.value;
      [['consent_validity', validity], ['reminder_before', reminder], ['refusal_cooldown', cooldown]].forEach(([k, c]) => { out[k] = c.value; });
      return out;
    };

    function save() {
      return ed.save(el, el.read, { collection: 'policies', old: isNew ? null : d, words: ww });
    }
    return el;
  }

  /**
   * The popup as people would see it for the unsaved draft: the widget's
   * own code in a shadow root (the console's styles cannot reach it),
   * redrawn a moment after each change, in the language chosen beside it
   * (or in the popup's own language switch).
   */
  function previewPanel(form, data) {
    const ww = w();
    let seq = 0;
    let timer = 0;
    const stage = h('div', { className: 'policy-preview-stage', id: 'policy-preview-stage', role: 'region', 'aria-label': ww.previewStage });
    const shadow = stage.attachShadow({ mode: 'open' });
    const state = h('p', { className: 'note preview-state', id: 'preview-state', 'data-state': 'loading' }, t().loading);
    const locales = () => {
      const p = data.properties.find((x) => x.id === form.querySelector('[data-field="property"]').value);
      return [...new Set([...TEXT_LOCALES, ...((p && p.locales) || [])])];
    };
    const pick = h('select', { id: 'preview-locale', 'data-key': 'preview-locale', onchange: (e) => { ed.editing.locale = e.target.value; update(); } });
    const fill = () => pick.replaceChildren(...locales().map((l) => h('option', { value: l, lang: l, selected: l === ed.editing.locale }, t().localeNames[l] || l)));
    fill();
    form.querySelector('[data-field="property"]').addEventListener('change', fill);

    async function update() {
      clearTimeout(timer);
      const mine = ++seq;
      const { faults, out } = form.read();
      const paused = (detail) => {
        state.dataset.state = 'paused';
        state.textContent = fmt(ww.previewPaused, { detail });
      };
      const real = faults.filter((x) => x.field !== 'id'); // a new policy is previewed before it is named
      if (real.length) return paused(`${real[0].field}: ${real[0].message}`);
      const box = h('div', { className: 'preview-box' });
      box.addEventListener('cpm:ready', (e) => { // the popup's own language switch moves the console's too
        ed.editing.locale = e.detail.locale;
        if (![...pick.options].some((o) => o.value === e.detail.locale)) pick.append(h('option', { value: e.detail.locale }, e.detail.locale));
        pick.value = e.detail.locale;
      });
      const experience = (locale) => call('POST', `/v1/policies/preview${locale ? `?locale=${encodeURIComponent(locale)}` : ''}`, out);
      try {
        const { mount } = await import('/widget/cpm-widget.js');
        if (mine !== seq) return;
        shadow.append(box);
        await mount({ container: box, property: out.property, region: out.region, locale: ed.editing.locale || undefined, experience });
      } catch (e) {
        box.remove();
        if (mine !== seq) return;
        const first = e.problem && Array.isArray(e.problem.errors) && e.problem.errors[0];
        return paused(first ? `${first.field}: ${first.message}` : e.message);
      }
      if (mine !== seq) return box.remove();
      [...shadow.children].filter((c) => c !== box).forEach((c) => c.remove()); // the new one drawn, the old one goes
      state.dataset.state = 'live';
      state.textContent = ww.previewLive;
    }
    const schedule = (e) => {
      if (e && e.target === pick) return;
      clearTimeout(timer);
      timer = setTimeout(update, PREVIEW_DELAY_MS);
    };
    leaveTimer = () => { clearTimeout(timer); seq++; };
    const el = h('aside', { className: 'policy-preview', 'aria-labelledby': 'preview-h' },
      h('h3', { id: 'preview-h' }, ww.preview),
      h('p', { className: 'note' }, ww.previewHint),
      field(ww.previewLocale, pick),
      state,
      stage);
    return { el, update, schedule };
  }
  return v;
}
