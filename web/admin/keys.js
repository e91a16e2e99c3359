// SPDX-License-Identifier: Apache-2.0
// The admin console's API keys: create (the secret shown once), scopes, revoke
// (README.md beside this file).

import { NAME_BYTES_MAX, app, t, h, fmt, enc, bytes, when, say, call, why, allPages, sessionEnded, clearErrors, showErrors, showFailure, field, checkbox, confirmPanel, secretPanel, makeView, table, cell } from './admin-core.js';

const SCOPES = ['admin', 'config', 'consents:write', 'decisions:read', 'ledger:read', 'export'];

export function keysScreen() {
  let creating = false;
  let secret = null; // {id, key}: shown once, then forgotten
  let confirming = null; // a key id being revoked
  let draft = { name: '', scopes: [] }; // the new key's form as typed
  const v = makeView({
    id: 'keys', title: () => t().keys, intro: () => t().keysIntro,
    load: () => allPages('/v1/api-keys'),
    draw,
  });

  function draw(list) {
    const tt = t();
    const parts = [];
    if (secret) parts.push(oneTimeSecret());
    else if (creating) parts.push(createForm());
    else parts.push(h('div', { className: 'actions' }, h('button', { type: 'button', className: 'btn', 'data-key': 'new', onclick: () => { creating = true; v.focusKey = 'name'; v.render(); } }, tt.newKey)));
    const mine = app.session && app.session.key.id;
    const rows = list.map((k) => h('tr', { 'data-key-id': k.id, 'data-revoked': k.revoked_at ? 'true' : 'false' },
      cell(tt.keyName, k.name, k.id === mine ? [' ', h('span', { className: 'badge' }, tt.yours)] : null),
      cell(tt.keyId, h('code', {}, k.id)),
      cell(tt.scopes, h('ul', { className: 'scopes' }, k.scopes.map((s) => h('li', {}, h('code', {}, s))))),
      cell(tt.createdAt, when(k.created_at)),
      cell(tt.keyStatus, k.revoked_at ? h('span', { className: 'badge bad' }, fmt(tt.revokedAt, { date: when(k.revoked_at) })) : h('span', { className: 'badge good' }, tt.active)),
      cell(tt.actions, k.revoked_at ? '—' : confirming === k.id ? confirmRevoke(k, k.id === mine)
        : h('button', { type: 'button', className: 'btn danger small', 'data-key': `revoke:${k.id}`, 'aria-label': fmt(tt.revokeOne, { name: k.name }), onclick: () => { confirming = k.id; v.focusKey = 'confirm-h'; v.render(); } }, tt.revoke))));
    parts.push(list.length === 0 ? h('p', { className: 'empty' }, tt.noKeys)
      : table(tt.keys, [tt.keyName, tt.keyId, tt.scopes, tt.createdAt, tt.keyStatus, tt.actions], rows));
    return h('div', {}, parts);
  }

  function confirmRevoke(k, own) {
    const tt = t();
    return confirmPanel({
      question: fmt(tt.revokeQuestion, { name: k.name }), text: own ? tt.revokeOwn : tt.revokeText, yes: tt.revokeYes,
      onYes: () => revoke(k, own), onNo: () => { confirming = null; v.focusKey = `revoke:${k.id}`; v.render(); },
    });
  }

  function revoke(k, own) {
    return v.act(async () => {
      say(t().saving);
      try {
        await call('DELETE', `/v1/api-keys/${enc(k.id)}`);
      } catch (e) {
        say(fmt(t().failed, { detail: why(e) }), 'error');
        return;
      }
      confirming = null;
      if (own) { // its sessions, this one included, ended with it
        sessionEnded();
        say(fmt(t().revoked, { name: k.name }), 'ok');
        return;
      }
      v.focusKey = 'heading';
      await v.refresh(true);
      say(fmt(t().revoked, { name: k.name }), 'ok');
    });
  }

  function createForm() {
    const tt = t();
    const name = h('input', { type: 'text', 'data-field': 'name', 'data-key': 'name', autocomplete: 'off', maxLength: 400, value: draft.name,
      oninput: (e) => { draft.name = e.target.value; } });
    const boxes = SCOPES.map((s) => h('input', { type: 'checkbox', value: s, id: `scope-${s.replace(':', '-')}`, 'data-key': `scope:${s}`,
      checked: draft.scopes.includes(s), onchange: () => { draft.scopes = boxes.filter((b) => b.checked).map((b) => b.value); } }));
    const el = h('form', {
      className: 'key-form', noValidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        const faults = [];
        const n = name.value.trim();
        if (!n) faults.push({ field: 'name', message: tt.required });
        else if (bytes(n) > NAME_BYTES_MAX) faults.push({ field: 'name', message: fmt(tt.tooLong, { n: NAME_BYTES_MAX }) });
        const scopes = boxes.filter((b) => b.checked).map((b) => b.value);
        if (!scopes.length) faults.push({ field: 'scopes', message: tt.oneScope });
        if (faults.length) return showErrors(el, faults);
        clearErrors(el);
        return v.act(async () => {
          say(tt.saving);
          let made;
          try {
            made = await call('POST', '/v1/api-keys', { name: n, scopes });
          } catch (err) {
            return showFailure(el, err);
          }
          creating = false;
          draft = { name: '', scopes: [] };
          secret = { id: made.id, name: made.name, key: made.key };
          v.focusKey = 'secret-h';
          await v.refresh(true);
          say(fmt(tt.keyCreated, { name: made.name }), 'ok');
        });
      },
    },
    h('h3', {}, tt.newKey),
    h('div', { className: 'form-errors', tabIndex: -1 }),
    field(tt.keyName, name, tt.keyNameHint),
    h('fieldset', { 'data-field': 'scopes' }, h('legend', {}, tt.scopes),
      SCOPES.map((s, i) => checkbox(s, boxes[i], tt.scopeHint[s]))),
    h('div', { className: 'actions' },
      h('button', { type: 'submit', className: 'btn', 'data-key': 'create' }, tt.create),
      h('button', { type: 'button', className: 'btn secondary', 'data-key': 'cancel', onclick: () => { creating = false; draft = { name: '', scopes: [] }; v.focusKey = 'new'; v.render(); } }, tt.cancel)));
    return el;
  }

  function oneTimeSecret() {
    const tt = t();
    return secretPanel({
      secret: secret.key, id: 'new-secret', headingId: 'secret-h', level: 3, doneKey: 'done',
      words: { title: fmt(tt.secretTitle, { name: secret.name }), once: tt.secretOnce, label: tt.secretLabel, copy: tt.copy, copied: tt.copied, copyByHand: tt.copyByHand, done: tt.secretDone },
      onDone: () => { secret = null; v.focusKey = 'new'; v.render(); },
    });
  }
  v.leave = () => { secret = null; };
  return v;
}
