import { expect } from 'vitest';
import type { TestBroker } from '../../helpers/broker.js';
import { client, field, type Client } from '../../helpers/cookie-jar.js';
import { totpCode, totpStep } from '../password-login/flows.js';
import { FIRST_RUN_SETUP, type FirstRunSetup } from '../../../plugins/admin/first-run-setup.js';

/** The setup URL the admin plugin issued at start (path and query only), from its handle: never from the log. */
export function setupPath(t: TestBroker): string {
  const url = t.broker.container.get<FirstRunSetup>(FIRST_RUN_SETUP).url;
  if (!url) throw new Error('no setup URL was issued');
  const u = new URL(url);
  return u.pathname + u.search;
}

/** Runs the first-run setup over HTTP; returns the admin's credentials. */
export async function bootstrapAdmin(t: TestBroker, email = 'root@example.com', password = 'admin password 1') {
  const c = client(t.url);
  const page = await c.get(setupPath(t));
  expect(page.res.status).toBe(200);
  const secret = /data-testid="totp-secret">([A-Z2-7]+)</.exec(page.body)![1];
  const done = await c.postForm('/admin/setup', {
    token: field(page.body, 'token'),
    sealed: field(page.body, 'sealed'),
    email,
    name: 'Root',
    password,
    code: totpCode(secret, t.clock),
  });
  expect(done.res.status).toBe(200);
  expect(done.body).toContain('Administrator created');
  return { email, password, secret };
}

/** Logs a browser in through /admin/users (password + TOTP); the clock moves one step so the code is fresh. */
export async function adminLogin(t: TestBroker, creds: { email: string; password: string; secret: string }): Promise<Client> {
  const c = client(t.url);
  const form = await c.get('/admin/users');
  expect(new URL(form.url).pathname).toBe('/password/login');
  const step1 = await c.postForm('/password/login', {
    _csrf: field(form.body, '_csrf'),
    lr: field(form.body, 'lr'),
    email: creds.email,
    password: creds.password,
  });
  expect(step1.body).toContain('Second factor');
  t.clock.advance(30_000);
  const done = await totpStep(c, step1.body, totpCode(creds.secret, t.clock));
  expect(new URL(done.url).pathname).toBe('/admin/users');
  expect(done.res.status).toBe(200);
  return c;
}
