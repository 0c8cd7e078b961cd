import { createHash } from 'node:crypto';
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { client, field } from '../../helpers/cookie-jar.js';
import { startBroker, TEST_ARGON2, type TestBroker } from '../../helpers/broker.js';
import { passwordStep, register } from '../password-login/flows.js';
import { adminLogin, bootstrapAdmin, setupPath } from './setup-flow.js';

const API_TOKEN = 'test-admin-api-token-0123456789';
const PW = 'user password 123';

async function events(t: TestBroker) {
  return t.broker.store.readAll({ limit: 100000 });
}

describe('admin', () => {
  let t: TestBroker;
  beforeEach(async () => {
    t = await startBroker({
      plugins: [
        { name: 'password-login', config: { argon2: TEST_ARGON2, selfRegistration: true } },
        { name: 'admin', config: { argon2: TEST_ARGON2, setup: { printToStdout: false } } },
      ],
      config: { admin: { apiTokens: [{ name: 'ops', tokenHash: createHash('sha256').update(API_TOKEN).digest('hex') }] } },
    });
  });
  afterEach(async () => t.stop());

  it('bootstraps the first admin from the one-time URL, which then never works again', async () => {
    const path = setupPath(t);
    const creds = await bootstrapAdmin(t);
    const log = await events(t);
    expect(log.map((e) => e.type)).toEqual(
      expect.arrayContaining(['SetupTokenIssued', 'AdminBootstrapped', 'AdminGranted', 'TotpEnrolled', 'PasswordSet']),
    );
    // Only the hash of the token is in the log.
    const token = new URL(path, 'http://x').searchParams.get('token')!;
    expect(JSON.stringify(log)).not.toContain(token);
    const reused = await client(t.url).get(path);
    expect(reused.res.status).toBe(410);
    expect(reused.body).toContain('already used');
    const forged = await client(t.url).get('/admin/setup?token=not-a-real-token');
    expect(forged.res.status).toBe(404);
    const reasons = (await events(t)).filter((e) => e.type === 'LoginFailed').map((e) => (e.data as { reason: string }).reason);
    expect(reasons).toEqual(['setup_token_reused', 'setup_token_invalid']);
    const c = await adminLogin(t, creds);
    const list = await c.get('/admin/users?q=root');
    expect(list.body).toContain('root@example.com');
  });

  it('bans from the JSON API: sessions end at once, login is refused with a banned page; unban lets them back', async () => {
    const admin = await adminLogin(t, await bootstrapAdmin(t));
    const user = client(t.url);
    await register(user, 'mallory@example.com', PW);
    expect((await user.request('/')).status).toBe(200);
    const userId = t.broker.read.users.findByEmail('mallory@example.com')!.userId;

    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      admin.request(path, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      });
    expect((await post(`/admin/users/${userId}/ban`, { reason: 'spam' })).status).toBe(403); // no CSRF token
    expect((await post(`/admin/users/${userId}/ban`, { reason: 'spam' }, { 'x-csrf-token': 'wrong' })).status).toBe(403);
    const csrf = (
      (await (await admin.request('/admin/api/csrf', { headers: { accept: 'application/json' } })).json()) as { csrfToken: string }
    ).csrfToken;
    expect((await post(`/admin/users/${userId}/ban`, {}, { 'x-csrf-token': csrf })).status).toBe(400); // a ban needs a reason
    expect((await post(`/admin/users/no-such-user/ban`, { reason: 'x' }, { 'x-csrf-token': csrf })).status).toBe(404);
    expect((await post(`/admin/users/bad%20id!/ban`, { reason: 'x' }, { 'x-csrf-token': csrf })).status).toBe(400);
    expect(t.broker.read.users.get(userId)!.banned).toBeNull();

    const banned = await post(`/admin/users/${userId}/ban`, { reason: 'spam' }, { 'x-csrf-token': csrf });
    expect(banned.status).toBe(200);
    expect(await banned.json()).toMatchObject({ userId, status: 'banned', sessions: 0 });
    // The session is dead on the very next request (read-your-writes: the API answered after the projections).
    expect((await user.request('/')).status).toBe(303);
    const log = await events(t);
    expect(log.find((e) => e.type === 'SessionEnded' && (e.data as { userId: string }).userId === userId)?.data).toMatchObject({
      reason: 'banned',
    });
    expect(log.find((e) => e.type === 'UserBanned')?.metadata.actor).toMatch(/^admin:/);

    const refused = await passwordStep(client(t.url), 'mallory@example.com', PW);
    expect(refused.res.status).toBe(403);
    expect(refused.body).toContain('Account banned');

    // Unban with an admin API token (no session, no CSRF needed).
    const unban = await client(t.url).request(`/admin/users/${userId}/unban`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}`, accept: 'application/json' },
    });
    expect(unban.status).toBe(200);
    expect(await unban.json()).toMatchObject({ status: 'active' });
    expect((await events(t)).find((e) => e.type === 'UserUnbanned')?.metadata.actor).toBe('admin-token:ops');
    const back = await passwordStep(client(t.url), 'mallory@example.com', PW);
    expect(new URL(back.url).pathname).toBe('/');
  });

  it('refuses non-admins (403), sends anonymous browsers to log in, and rejects bad API tokens', async () => {
    await bootstrapAdmin(t);
    const user = client(t.url);
    await register(user, 'trent@example.com', PW);
    expect((await user.get('/admin/users')).res.status).toBe(403);
    expect((await user.request('/admin/api/users', { headers: { accept: 'application/json' } })).status).toBe(403);
    const anon = await client(t.url).request('/admin/users/whoever');
    expect(anon.status).toBe(303);
    expect(anon.headers.get('location')).toMatch(/^\/login\?lr=/);
    expect((await client(t.url).request('/admin/api/users', { headers: { accept: 'application/json' } })).status).toBe(401);
    const bad = await client(t.url).request('/admin/api/users', { headers: { authorization: 'Bearer nope', accept: 'application/json' } });
    expect(bad.status).toBe(401);
    const good = await client(t.url).request('/admin/api/users?q=trent', {
      headers: { authorization: `Bearer ${API_TOKEN}`, accept: 'application/json' },
    });
    expect(good.status).toBe(200);
    expect(((await good.json()) as { users: { email: string }[] }).users.map((u) => u.email)).toEqual(['trent@example.com']);
  });

  it('disables and enables from the admin page forms; the user page shows sessions and the timeline, never secrets', async () => {
    const admin = await adminLogin(t, await bootstrapAdmin(t));
    const user = client(t.url);
    await register(user, 'walter@example.com', PW);
    const userId = t.broker.read.users.findByEmail('walter@example.com')!.userId;
    const page = await admin.get(`/admin/users/${userId}`);
    expect(page.body).toContain('Sessions (1)');
    expect(page.body).toContain('data-event-type="PasswordSet"');
    expect(page.body).not.toMatch(/\$argon2id\$/);
    const noToken = await admin.postForm(`/admin/users/${userId}/disable`, { confirm: 'yes' });
    expect(noToken.res.status).toBe(403);
    // The page links to a confirmation; a form post without `confirm=yes` shows it too and changes nothing.
    expect(page.body).toContain(`href="/admin/users/${userId}/disable"`);
    const ask = await admin.get(`/admin/users/${userId}/disable`);
    expect(ask.body).toContain('end 1 live session(s)');
    const unconfirmed = await admin.postForm(`/admin/users/${userId}/disable`, { _csrf: field(ask.body, '_csrf') });
    expect(unconfirmed.body).toContain('data-confirm="yes"');
    expect(t.broker.read.users.get(userId)!.disabled).toBe(false);
    const disabled = await admin.postForm(`/admin/users/${userId}/disable`, { _csrf: field(ask.body, '_csrf'), confirm: 'yes' });
    expect(new URL(disabled.url).pathname).toBe(`/admin/users/${userId}`);
    expect(disabled.body).toContain('data-testid="status"><span class="badge disabled">disabled');
    expect(disabled.body).toContain('Account disabled. 1 session(s) ended.');
    expect((await user.request('/')).status).toBe(303);
    expect((await passwordStep(client(t.url), 'walter@example.com', PW)).body).toContain('Account disabled');
    const enabled = await admin.postForm(`/admin/users/${userId}/enable`, {
      _csrf: field((await admin.get(`/admin/users/${userId}/enable`)).body, '_csrf'),
      confirm: 'yes',
    });
    expect(enabled.body).toContain('data-testid="status"><span class="badge active">active');
    // An escaped name: markup typed by a user never becomes markup on the admin page.
    await register(client(t.url), 'xss@example.com', PW, '<script>alert(1)</script>');
    const list = await admin.get('/admin/users');
    expect(list.body).toContain('&lt;script&gt;');
    expect(list.body).not.toContain('<script>alert');
  });
});

describe('first-run setup link', () => {
  let t: TestBroker;
  afterEach(async () => t.stop());
  const start = () =>
    startBroker({
      plugins: [
        { name: 'password-login', config: { argon2: TEST_ARGON2 } },
        { name: 'admin', config: { argon2: TEST_ARGON2, setup: { printToStdout: false, ttlSeconds: 600 } } },
      ],
    });

  it('expires, and is refused with a clear page', async () => {
    t = await start();
    t.clock.advance(601_000);
    const r = await client(t.url).get(setupPath(t));
    expect(r.res.status).toBe(410);
    expect(r.body).toContain('expired');
  });

  it('makes exactly one admin when two browsers submit the same link at once', async () => {
    t = await start();
    const { totpCode } = await import('../password-login/flows.js');
    const forms = await Promise.all([client(t.url), client(t.url)].map(async (c) => ({ c, page: await c.get(setupPath(t)) })));
    const results = await Promise.all(
      forms.map(({ c, page }, i) => {
        const secret = /data-testid="totp-secret">([A-Z2-7]+)</.exec(page.body)![1];
        return c.postForm('/admin/setup', {
          token: field(page.body, 'token'),
          sealed: field(page.body, 'sealed'),
          email: `admin${i}@example.com`,
          password: 'admin password 1',
          code: totpCode(secret, t.clock),
        });
      }),
    );
    expect(results.map((r) => r.res.status).sort()).toEqual([200, 410]);
    const admins = [...t.broker.read.users.each()].filter((u) => u.admin);
    expect(admins).toHaveLength(1);
    expect((await t.broker.store.readAll({ limit: 10000 })).filter((e) => e.type === 'AdminBootstrapped')).toHaveLength(1);
  });

  it('refuses a weak password or a wrong TOTP code without using the link up', async () => {
    t = await start();
    const c = client(t.url);
    const page = await c.get(setupPath(t));
    const base = { token: field(page.body, 'token'), sealed: field(page.body, 'sealed'), email: 'a@example.com' };
    const weak = await c.postForm('/admin/setup', { ...base, password: 'short', code: '123456' });
    expect(weak.res.status).toBe(400);
    const badCode = await c.postForm('/admin/setup', { ...base, password: 'long enough password', code: '12345x' });
    expect(badCode.res.status).toBe(400);
    const tampered = await c.postForm('/admin/setup', {
      ...base,
      sealed: base.sealed.slice(0, -4) + 'AAAA',
      password: 'long enough password',
      code: '123456',
    });
    expect(tampered.res.status).toBe(400);
    expect((await c.get(setupPath(t))).res.status).toBe(200); // still usable
  });
});
