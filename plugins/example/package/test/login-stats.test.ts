import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminApiToken, logIn, startBroker, type TestBroker } from 'identity-broker/plugin/testing';
import plugin from '../src/index.js';

// A real broker (HTTP on a free port, SQLite in a temporary folder) with this plugin loaded.
describe('login-stats', () => {
  const token = adminApiToken('ci');
  let t: TestBroker;
  beforeAll(async () => {
    t = await startBroker({ plugins: [{ plugin, config: { top: 5 } }], config: { admin: { apiTokens: [token.entry] } } });
  });
  afterAll(() => t.stop());

  it('counts each user’s logins and shows them to an admin', async () => {
    const alice = await logIn(t.broker, { email: 'alice@example.test' });
    await logIn(t.broker, { userId: alice.userId }); // a second login of the same user
    const me = await fetch(`${t.url}/login-stats/me`, { headers: alice.headers });
    expect(await me.json()).toEqual({ logins: 2 });

    const admin = await logIn(t.broker, { admin: true });
    const res = await fetch(`${t.url}/login-stats/admin`, { headers: admin.headers });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { users: { userId: string; logins: number }[] };
    expect(body.users.map((u) => u.userId)).toContain(alice.userId);
  });

  it('refuses a user who is not an admin, and a change without the CSRF token', async () => {
    const bob = await logIn(t.broker, { email: 'bob@example.test' });
    expect((await fetch(`${t.url}/login-stats/admin`, { headers: bob.headers })).status).toBe(403);
    const admin = await logIn(t.broker, { admin: true });
    const noCsrf = await fetch(`${t.url}/login-stats/admin/reset`, {
      method: 'POST',
      headers: { cookie: admin.cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'x' }),
    });
    expect(noCsrf.status).toBe(403);
  });

  it('lets an admin API token reset the counts, recorded as an event', async () => {
    const res = await fetch(`${t.url}/login-stats/admin/reset`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'new quarter' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ resets: 1 });
    const [event] = await t.broker.store.readStream('login-stats-resets');
    expect(event).toMatchObject({ type: 'LoginStatsReset', data: { reason: 'new quarter' }, metadata: { actor: 'admin-token:ci' } });
  });
});
