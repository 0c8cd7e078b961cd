import { describe, it, expect, afterEach } from 'vitest';
import { fetch } from 'undici';
import { startBroker, type TestBroker } from '../../helpers/broker.js';

/** POST /logout ends the session only with the session's CSRF token (a cross-site form cannot). */
describe('POST /logout', () => {
  let t: TestBroker | null = null;
  afterEach(async () => {
    await t?.stop();
    t = null;
  });

  async function session(b: TestBroker): Promise<string> {
    const { userId } = await b.broker.users.register({ email: 'erin@example.com' }, { actor: 'test' });
    const { sessionToken } = await b.broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] });
    return `broker_session=${sessionToken}`;
  }
  const post = (url: string, cookie: string, form: Record<string, string>) =>
    fetch(`${url}/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams(form).toString(),
    });

  it('refuses a logout without the token, or with a wrong one, and keeps the session', async () => {
    t = await startBroker();
    const cookie = await session(t);
    for (const form of [{}, { _csrf: 'forged' }] as Record<string, string>[]) {
      const r = await post(t.url, cookie, form);
      expect(r.status).toBe(403);
      expect(r.headers.getSetCookie().join()).not.toContain('broker_session=;');
      await r.text();
    }
    expect((await t.broker.store.readAll({ limit: 1000 })).some((e) => e.type === 'SessionEnded')).toBe(false);
    const home = await fetch(`${t.url}/`, { headers: { cookie }, redirect: 'manual' });
    expect(home.status).toBe(200);
    await home.text();
  });

  it('logs out with the token carried by the home page form', async () => {
    t = await startBroker();
    const cookie = await session(t);
    const page = await (await fetch(`${t.url}/`, { headers: { cookie } })).text();
    const form = /<form method="post" action="\/logout"><input type="hidden" name="_csrf" value="([^"]+)">/.exec(page);
    expect(form).not.toBeNull();
    const r = await post(t.url, cookie, { _csrf: form![1] });
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('Logged out');
    expect((await t.broker.store.readAll({ limit: 1000 })).find((e) => e.type === 'SessionEnded')?.data).toMatchObject({
      reason: 'logout',
    });
    const home = await fetch(`${t.url}/`, { headers: { cookie }, redirect: 'manual' });
    expect(home.status).toBe(303);
  });
});
