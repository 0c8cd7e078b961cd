import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { client, field } from '../../helpers/cookie-jar.js';
import { startBroker, TEST_ARGON2, type TestBroker } from '../../helpers/broker.js';
import { enrollTotp, passwordStep, register, totpCode, totpStep } from './flows.js';

const PW = 'correct horse battery';
const plugins = (over: Record<string, unknown> = {}) => [
  { name: 'password-login', config: { argon2: TEST_ARGON2, selfRegistration: true, ...over } },
];

const failures = async (t: TestBroker) =>
  (await t.broker.store.readAll({ limit: 100000 }))
    .filter((e) => e.type === 'LoginFailed')
    .map((e) => e.data as { reason: string; userId: string | null; subject: string });

describe('password login', () => {
  let t: TestBroker;
  beforeEach(async () => {
    t = await startBroker({ plugins: plugins() });
  });
  afterEach(async () => t.stop());

  it('registers, lands on the home page, and a second request is signed in from the session (SSO)', async () => {
    const c = client(t.url);
    const r = await register(c, 'ann@example.com', PW, 'Ann');
    expect(r.res.status).toBe(200);
    expect(new URL(r.url).pathname).toBe('/');
    expect(r.body).toContain('ann@example.com');
    expect(c.jar.cookies.has('broker_session')).toBe(true);
    // SSO: asking to log in again with a session goes straight to the target, no form.
    const again = await c.get('/password/login?return_to=/somewhere?x=1');
    expect(again.hops.map((h) => new URL(h).pathname)).toEqual(['/password/login', '/somewhere']);
    expect(new URL(again.url).search).toBe('?x=1');
  });

  it('logs in with password and TOTP, refuses a replayed or wrong code, accepts a recovery code once', async () => {
    const c = client(t.url);
    await register(c, 'bob@example.com', PW);
    const { secret, codes } = await enrollTotp(c, t.clock);
    const fresh = client(t.url);
    t.clock.advance(30_000); // the enrollment code's step is spent
    const step1 = await passwordStep(fresh, 'bob@example.com', PW);
    expect(step1.body).toContain('Second factor');
    expect(fresh.jar.cookies.has('broker_session')).toBe(false);
    const code = totpCode(secret, t.clock);
    const ok = await totpStep(fresh, step1.body, code);
    expect(new URL(ok.url).pathname).toBe('/');
    expect(ok.body).toContain('pwd, otp, mfa');

    // The same code again (another browser, same step): refused as replayed.
    const other = client(t.url);
    const s2 = await passwordStep(other, 'bob@example.com', PW);
    const replay = await totpStep(other, s2.body, code);
    expect(replay.res.status).toBe(401);
    expect(replay.body).toContain('already used');
    const wrong = await totpStep(other, replay.body, code === '000000' ? '111111' : '000000');
    expect(wrong.res.status).toBe(401);
    expect(wrong.body).toContain('not valid');
    expect(other.jar.cookies.has('broker_session')).toBe(false);

    const rec = await totpStep(other, wrong.body, codes[3]);
    expect(new URL(rec.url).pathname).toBe('/');
    const third = client(t.url);
    const s3 = await passwordStep(third, 'bob@example.com', PW);
    const reused = await totpStep(third, s3.body, codes[3]);
    expect(reused.res.status).toBe(401);
    const reasons = (await failures(t)).map((f) => f.reason);
    expect(reasons).toEqual(expect.arrayContaining(['totp_replayed', 'bad_totp', 'bad_recovery_code']));
  });

  it('gives a wrong password and an unknown user the same answer, and records both', async () => {
    const c = client(t.url);
    await register(c, 'cat@example.com', PW);
    const wrong = await passwordStep(client(t.url), 'cat@example.com', 'not the password');
    const unknown = await passwordStep(client(t.url), 'nobody@example.com', 'not the password');
    expect(wrong.res.status).toBe(401);
    expect(unknown.res.status).toBe(401);
    const msg = (b: string) => /<p class="error" role="alert">([^<]*)</.exec(b)![1];
    expect(msg(wrong.body)).toBe(msg(unknown.body));
    const f = await failures(t);
    expect(f.map((x) => x.reason)).toEqual(['bad_password', 'unknown_user']);
    expect(f[1].userId).toBeNull();
    // The typed name is never recorded in clear (people type passwords there).
    expect(JSON.stringify(f)).not.toContain('nobody@example.com');
  });

  it('refuses a POST without or with a wrong CSRF token (403, not 500)', async () => {
    const c = client(t.url);
    const form = await c.get('/password/login?return_to=/');
    const lr = field(form.body, 'lr');
    const missing = await c.postForm('/password/login', { lr, email: 'a@example.com', password: PW });
    expect(missing.res.status).toBe(403);
    const bad = await c.postForm('/password/login', { _csrf: 'forged-token', lr, email: 'a@example.com', password: PW });
    expect(bad.res.status).toBe(403);
    const noCookie = await client(t.url).postForm('/password/login', {
      _csrf: field(form.body, '_csrf'),
      lr,
      email: 'a@example.com',
      password: PW,
    });
    expect(noCookie.res.status).toBe(403);
  });

  it('refuses an off-site return_to and a forged login request', async () => {
    const c = client(t.url);
    for (const target of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)', '/%0d%0aSet-Cookie:x']) {
      const r = await c.request(`/password/login?return_to=${encodeURIComponent(target)}`);
      if (target.startsWith('/%0d')) {
        // Percent-encoded stays a path on this site: allowed, and never a header injection.
        expect(r.status).toBe(303);
        continue;
      }
      expect(r.status, target).toBe(400);
    }
    const forged = await c.request('/password/login?lr=eyJwcm90b2NvbCI6InJldHVybl90byJ9.AAAA');
    expect(forged.status).toBe(400);
  });

  it('ignores a forged session cookie and an idle-expired one', async () => {
    const c = client(t.url);
    await register(c, 'dan@example.com', PW);
    const forged = client(t.url);
    forged.jar.cookies.set('broker_session', 'A'.repeat(43));
    const r = await forged.request('/');
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toMatch(/^\/login\?lr=/);
    expect((await c.request('/')).status).toBe(200);
    t.clock.advance(3601_000); // past the idle timeout
    expect((await c.request('/')).status).toBe(303);
  });

  it('ends every session with "log out everywhere"', async () => {
    const a = client(t.url);
    await register(a, 'eve@example.com', PW);
    const b = client(t.url);
    const logged = await passwordStep(b, 'eve@example.com', PW);
    expect(new URL(logged.url).pathname).toBe('/');
    const home = await a.get('/');
    const out = await a.postForm('/logout/everywhere', { _csrf: field(home.body, '_csrf') });
    expect(out.body).toContain('2 session(s) ended');
    expect((await b.request('/')).status).toBe(303);
    const noCsrf = await b.postForm('/logout/everywhere', {});
    expect(noCsrf.res.status).toBe(401);
  });
});

describe('password login throttling', () => {
  let t: TestBroker;
  afterEach(async () => t.stop());

  it('locks an account after repeated failures, the right password included, and unknown names alike', async () => {
    t = await startBroker({ plugins: plugins({ lockout: { maxFailures: 3, windowSeconds: 600, lockSeconds: 600 } }) });
    await register(client(t.url), 'fay@example.com', PW);
    for (let i = 0; i < 3; i++) expect((await passwordStep(client(t.url), 'fay@example.com', 'wrong-password')).res.status).toBe(401);
    const locked = await passwordStep(client(t.url), 'fay@example.com', PW);
    expect(locked.res.status).toBe(429);
    for (let i = 0; i < 3; i++) await passwordStep(client(t.url), 'ghost@example.com', 'wrong-password');
    expect((await passwordStep(client(t.url), 'ghost@example.com', PW)).res.status).toBe(429);
    t.clock.advance(601_000);
    const after = await passwordStep(client(t.url), 'fay@example.com', PW);
    expect(new URL(after.url).pathname).toBe('/');
  });

  it('throttles POSTs per IP with a 429 page', async () => {
    t = await startBroker({ plugins: plugins({ rateLimit: { max: 2, windowSeconds: 60 } }) });
    const c = client(t.url);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await passwordStep(c, `x${i}@example.com`, 'wrong-password')).res.status);
    expect(statuses).toEqual([401, 401, 429]);
  });
});

describe('password login without self-registration', () => {
  let t: TestBroker;
  afterEach(async () => t.stop());

  it('has no registration route by default, and logs in a user created through the core (TOTP secret read back encrypted)', async () => {
    t = await startBroker({ plugins: [{ name: 'password-login', config: { argon2: TEST_ARGON2 } }] });
    expect((await client(t.url).request('/password/register')).status).toBe(404);
    const { createPasswordUser } = await import('../../helpers/users.js');
    const u = await createPasswordUser(t.broker, { email: 'core@example.com', password: PW, totp: true });
    const log = JSON.stringify(await t.broker.store.readAll({ limit: 10000 }));
    expect(log).not.toContain(u.totpSecret!);
    const c = client(t.url);
    const s1 = await passwordStep(c, 'core@example.com', PW);
    const done = await totpStep(c, s1.body, totpCode(u.totpSecret!, t.clock));
    expect(new URL(done.url).pathname).toBe('/');
    expect(done.body).toContain('core@example.com');
  });
});
