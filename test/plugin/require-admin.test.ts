import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, html, page, requireAdmin, type Plugin } from '../../plugin/index.js';
import { adminApiToken, logIn, startBroker, type TestBroker } from '../../plugin/testing.js';

/** `requireAdmin(ctx)` from the public entry, through a real broker started by the exported test helpers. */
const guarded: Plugin = {
  name: 'guarded',
  register(ctx) {
    const admin = { preHandler: requireAdmin(ctx) };
    ctx.web.app.get('/guarded', admin, async (req) => ({ actor: adminOf(req).actor }));
    ctx.web.app.post('/guarded', admin, async (req) => ({ changedBy: adminOf(req).actor }));
    ctx.web.app.get('/guarded/page', admin, async (req, reply) => page(reply, 'Guarded', html`<p>${'<b>'} for ${adminOf(req).actor}</p>`));
  },
};

describe('requireAdmin', () => {
  const token = adminApiToken('ops');
  let t: TestBroker;
  beforeAll(async () => {
    t = await startBroker({ plugins: [{ plugin: guarded }], config: { admin: { apiTokens: [token.entry] } } });
  });
  afterAll(() => t.stop());

  it('sends an anonymous browser to log in, and answers 401 to an anonymous API call', async () => {
    const browser = await fetch(`${t.url}/guarded/page`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(browser.status).toBe(303);
    expect(browser.headers.get('location')).toMatch(/^\/login\?lr=/);
    expect((await fetch(`${t.url}/guarded`)).status).toBe(401);
  });

  it('refuses a logged-in user who is not an admin', async () => {
    const user = await logIn(t.broker);
    expect((await fetch(`${t.url}/guarded`, { headers: user.headers })).status).toBe(403);
  });

  it('lets an admin session read, and change only with the session CSRF token', async () => {
    const admin = await logIn(t.broker, { admin: true });
    expect(await (await fetch(`${t.url}/guarded`, { headers: { cookie: admin.cookie } })).json()).toEqual({
      actor: `admin:${admin.userId}`,
    });
    expect((await fetch(`${t.url}/guarded`, { method: 'POST', headers: { cookie: admin.cookie } })).status).toBe(403);
    expect((await fetch(`${t.url}/guarded`, { method: 'POST', headers: { cookie: admin.cookie, 'x-csrf-token': 'forged' } })).status).toBe(
      403,
    );
    const ok = await fetch(`${t.url}/guarded`, { method: 'POST', headers: admin.headers });
    expect(await ok.json()).toEqual({ changedBy: `admin:${admin.userId}` });
    const pageHtml = await (await fetch(`${t.url}/guarded/page`, { headers: admin.headers })).text();
    expect(pageHtml).toContain(`<p>&lt;b&gt; for admin:${admin.userId}</p>`);
  });

  it('takes an admin API token (no CSRF token needed) and refuses a wrong one', async () => {
    const ok = await fetch(`${t.url}/guarded`, { method: 'POST', headers: { authorization: `Bearer ${token.token}` } });
    expect(await ok.json()).toEqual({ changedBy: 'admin-token:ops' });
    const bad = await fetch(`${t.url}/guarded`, { headers: { authorization: `Bearer ${token.token}x` } });
    expect(bad.status).toBe(401);
  });
});
