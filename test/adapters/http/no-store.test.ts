import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startBroker, TEST_ARGON2, type TestBroker } from '../../helpers/broker.js';
import { client, field } from '../../helpers/cookie-jar.js';
import { totpCode } from '../../plugins/password-login/flows.js';
import { setupPath } from '../../plugins/admin/setup-flow.js';

/** Each page or answer that carries a secret or a step of a login is sent with Cache-Control: no-store. */
describe('no-store on pages with secrets and login steps', () => {
  let t: TestBroker;
  beforeAll(async () => {
    t = await startBroker({
      plugins: [
        { name: 'password-login', config: { argon2: TEST_ARGON2 } },
        { name: 'admin', config: { argon2: TEST_ARGON2 } },
      ],
    });
  });
  afterAll(async () => t?.stop());

  const noStore = (res: { headers: { get(name: string): string | null } }, what: string) =>
    expect(res.headers.get('cache-control'), what).toBe('no-store');

  it('setup, login, MFA, TOTP enrolment, recovery codes, the session cookie and the admin CSRF token', async () => {
    const c = client(t.url);
    // First-run setup: the page shows the setup link and a TOTP secret.
    const setup = await c.get(setupPath(t));
    expect(setup.res.status).toBe(200);
    noStore(setup.res, 'setup page');
    const secret = /data-testid="totp-secret">([A-Z2-7]+)</.exec(setup.body)![1];
    const created = await c.postForm('/admin/setup', {
      token: field(setup.body, 'token'),
      sealed: field(setup.body, 'sealed'),
      email: 'root@example.com',
      name: 'Root',
      password: 'admin password 1',
      code: totpCode(secret, t.clock),
    });
    expect(created.body).toContain('Administrator created');
    noStore(created.res, 'setup answer');

    // Login: the password form, the second-factor step, and the answer that sets the session cookie.
    const admin = client(t.url);
    const form = await admin.get('/admin/users');
    expect(new URL(form.url).pathname).toBe('/password/login');
    noStore(form.res, 'login page');
    const mfa = await admin.postForm('/password/login', {
      _csrf: field(form.body, '_csrf'),
      lr: field(form.body, 'lr'),
      email: 'root@example.com',
      password: 'admin password 1',
    });
    expect(mfa.body).toContain('Second factor');
    noStore(mfa.res, 'MFA page');
    t.clock.advance(30_000);
    const finish = await admin.request('/password/totp', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        _csrf: field(mfa.body, '_csrf'),
        ticket: field(mfa.body, 'ticket'),
        code: totpCode(secret, t.clock),
      }).toString(),
    });
    expect(finish.status).toBe(303);
    expect(finish.headers.getSetCookie().some((c) => c.startsWith('broker_session='))).toBe(true);
    noStore(finish, 'the answer that sets the session cookie');
    await finish.body?.cancel();

    const csrf = await admin.request('/admin/api/csrf', { headers: { accept: 'application/json' } });
    expect(((await csrf.json()) as { csrfToken: string }).csrfToken).toBeTruthy();
    noStore(csrf, 'admin CSRF token');

    // TOTP enrolment and the recovery codes of a user without a second factor.
    const user = client(t.url);
    const { userId } = await t.broker.users.register({ email: 'ann@example.com' }, { actor: 'test' });
    user.jar.cookies.set(
      'broker_session',
      (await t.broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] })).sessionToken,
    );
    const enroll = await user.get('/password/totp/enroll');
    expect(enroll.res.status).toBe(200);
    noStore(enroll.res, 'TOTP enrolment');
    const userSecret = /data-testid="totp-secret">([A-Z2-7]+)</.exec(enroll.body)![1];
    const codes = await user.postForm('/password/totp/enroll', {
      _csrf: field(enroll.body, '_csrf'),
      sealed: field(enroll.body, 'sealed'),
      code: totpCode(userSecret, t.clock),
    });
    expect(codes.body).toMatch(/<li><code>[a-z0-9-]+<\/code><\/li>/);
    noStore(codes.res, 'recovery codes');
  });

  it('leaves answers without a secret to the usual caching', async () => {
    const c = client(t.url);
    const css = await c.request('/assets/broker.css');
    expect(css.headers.get('cache-control')).toBe('public, max-age=3600');
    const health = await c.request('/healthz', { headers: { accept: 'application/json' } });
    expect(health.headers.get('cache-control')).toBeNull();
  });
});
