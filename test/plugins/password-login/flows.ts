import { TOTP, Secret } from 'otpauth';
import { expect } from 'vitest';
import type { ManualClock } from '../../../core/index.js';
import { field, type Client } from '../../helpers/cookie-jar.js';

/** Reusable flows over HTTP for tests that need a logged-in user (password-login plugin). */
export async function register(c: Client, email: string, password: string, name = 'Test User') {
  const form = await c.get('/password/register');
  expect(form.res.status).toBe(200);
  return c.postForm('/password/register', { _csrf: field(form.body, '_csrf'), lr: field(form.body, 'lr'), email, name, password });
}

/** Posts the password form (after loading it through the core, as a browser would). */
export async function passwordStep(c: Client, email: string, password: string, returnTo = '/') {
  const form = await c.get(`/password/login?return_to=${encodeURIComponent(returnTo)}`);
  if (!form.url.includes('/password/login?lr=')) return form; // already logged in (SSO)
  return c.postForm('/password/login', { _csrf: field(form.body, '_csrf'), lr: field(form.body, 'lr'), email, password });
}

export const totpCode = (secret: string, clock: ManualClock): string =>
  new TOTP({ secret: Secret.fromBase32(secret), period: 30 }).generate({ timestamp: clock.now().getTime() });

export async function totpStep(c: Client, page: string, code: string) {
  return c.postForm('/password/totp', { _csrf: field(page, '_csrf'), ticket: field(page, 'ticket'), code });
}

/** Enrolls TOTP for the logged-in user; returns the secret and the recovery codes. */
export async function enrollTotp(c: Client, clock: ManualClock) {
  const page = await c.get('/password/totp/enroll');
  expect(page.res.status).toBe(200);
  expect(page.body).toMatch(/<img src="data:image\/png;base64,/);
  const secret = /data-testid="totp-secret">([A-Z2-7]+)</.exec(page.body)![1];
  const done = await c.postForm('/password/totp/enroll', {
    _csrf: field(page.body, '_csrf'),
    sealed: field(page.body, 'sealed'),
    code: totpCode(secret, clock),
  });
  expect(done.res.status).toBe(200);
  const codes = [...done.body.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map((m) => m[1]);
  expect(codes).toHaveLength(10);
  return { secret, codes };
}
