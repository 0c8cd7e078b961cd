import { describe, it, expect, afterEach } from 'vitest';
import { client } from '../../helpers/cookie-jar.js';
import { startBroker, TEST_ARGON2, waitUntil, type TestBroker } from '../../helpers/broker.js';
import { register } from './flows.js';

const MIN = 60_000;
const start = (session = { absoluteSeconds: 8 * 3600, idleSeconds: 3600 }) =>
  startBroker({ plugins: [{ name: 'password-login', config: { argon2: TEST_ARGON2, selfRegistration: true } }], config: { session } });

describe('broker session lifetimes', () => {
  let t: TestBroker;
  afterEach(async () => t.stop());

  it('slides the idle window on use (SessionRefreshed) and ends an idle session', async () => {
    t = await start();
    const c = client(t.url);
    await register(c, 'idle@example.com', 'idle password 1');
    const userId = t.broker.read.users.findByEmail('idle@example.com')!.userId;
    t.clock.advance(40 * MIN);
    expect((await c.request('/')).status).toBe(200);
    await waitUntil(
      () => t.broker.read.sessions.forUser(userId)[0]?.lastSeenAt === t.clock.now().toISOString(),
      5000,
      'SessionRefreshed applied',
    );
    t.clock.advance(40 * MIN); // 80 min after login, 40 after last use: alive
    expect((await c.request('/')).status).toBe(200);
    await waitUntil(() => t.broker.read.sessions.forUser(userId)[0]?.lastSeenAt === t.clock.now().toISOString(), 5000, 'second refresh');
    t.clock.advance(61 * MIN);
    expect((await c.request('/')).status).toBe(303);
  });

  it('ends a session at its absolute lifetime however busy it is', async () => {
    t = await start({ absoluteSeconds: 3600, idleSeconds: 1800 });
    const c = client(t.url);
    await register(c, 'abs@example.com', 'absolute password 1');
    for (let i = 0; i < 3; i++) {
      t.clock.advance(19 * MIN);
      expect((await c.request('/')).status, `after ${(i + 1) * 19} min`).toBe(200);
    }
    t.clock.advance(4 * MIN); // 61 min after login, 4 after the last use
    expect((await c.request('/')).status).toBe(303);
  });

  it('skips the login page for a browser that holds a session (core /login)', async () => {
    t = await start();
    const c = client(t.url);
    await register(c, 'sso@example.com', 'sso password 12');
    const anon = await client(t.url).request('/password/login?return_to=/target');
    const loginUrl = anon.headers.get('location')!;
    expect(loginUrl).toMatch(/^\/login\?lr=/);
    const r = await c.request(loginUrl);
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/target');
  });

  it('logs out: SessionEnded(logout), the cookie is cleared and the old token no longer works', async () => {
    t = await start();
    const c = client(t.url);
    await register(c, 'bye@example.com', 'logout password 1');
    const token = c.jar.cookies.get('broker_session')!;
    const home = await c.get('/');
    const out = await c.postForm('/logout', {
      _csrf: /action="\/logout"><input type="hidden" name="_csrf" value="([^"]+)"/.exec(home.body)![1],
    });
    expect(out.body).toContain('Logged out');
    expect(c.jar.cookies.has('broker_session')).toBe(false);
    const ended = (await t.broker.store.readAll({ limit: 10000 })).find((e) => e.type === 'SessionEnded');
    expect(ended?.data).toMatchObject({ reason: 'logout' });
    expect(JSON.stringify(ended)).not.toContain(token); // the log holds the session id (a hash), never the cookie
    const replay = client(t.url);
    replay.jar.cookies.set('broker_session', token);
    expect((await replay.request('/')).status).toBe(303);
  });
});
