// SPDX-License-Identifier: Apache-2.0
// Valid configuration documents the API tests start from (each test copies
// and breaks them on purpose).
export const property = () => ({
  id: 'shop',
  name: 'Shop',
  kind: 'web',
  allowed_origins: ['https://shop.example'],
  locales: ['zh-Hans', 'zh-Hant', 'en'],
  default_locale: 'zh-Hans',
});

export const purpose = (id = 'marketing.sms', extra = {}) => ({
  id,
  name: { 'zh-Hans': '短信营销', en: 'SMS marketing' },
  legal_basis: 'consent',
  consent_form: 'general',
  retention: 'P2Y',
  ...extra,
});

export const notice = () => ({ id: 'privacy', name: 'Privacy notice', default_locale: 'zh-Hans' });

export const version = (purposes = ['marketing.sms']) => ({
  content: {
    'zh-Hans': { title: '隐私政策', text: '我们如何处理您的个人信息。' },
    'zh-Hant': { title: '私隱政策', text: '我們如何處理您的個人資料。' },
    en: { title: 'Privacy notice', text: 'How we process your personal information.' },
  },
  purposes: purposes.map((p) => ({ purpose: p, change: 'material' })),
});

export const policy = (id = 'cn-shop', region = 'CN') => ({
  id,
  region,
  property: 'shop',
  notice: 'privacy',
  purposes: [{ purpose: 'marketing.sms', default: false }],
  consent_validity: 'P12M',
});

/** POSTs each [path, body] in order; throws unless each answers 201. */
export async function createAll(request, server, key, steps) {
  for (const [p, body] of steps) {
    const res = await request(server, 'POST', p, { key, body });
    if (res.status !== 201) throw new Error(`POST ${p}: ${res.status} ${res.text}`);
  }
}

/** Creates property, purpose, notice (+ version 1) and a policy. */
export async function seedAll(request, server, key) {
  await createAll(request, server, key, [
    ['/v1/properties', property()],
    ['/v1/purposes', purpose()],
    ['/v1/notices', notice()],
    ['/v1/notices/privacy/versions', version()],
    ['/v1/policies', policy()],
  ]);
}

/** A consent action's body on version 1 of the privacy notice (noticeVersion: its document). */
export const consentBody = (noticeVersion, decisions, extra = {}) => ({
  property: 'shop', channel: 'web', locale: 'en', method: 'click',
  notice: { id: 'privacy', version: 1, sha256: noticeVersion.content.en.sha256 },
  decisions, ...extra,
});
