import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { field } from '../../helpers/cookie-jar.js';
import { waitUntil } from '../../helpers/broker.js';
import { basic, postForm } from '../oauth-server/harness.js';
import { WEB_SECRET, csrfOf, startConsoleWorld, type ConsoleWorld } from './console-fixture.js';

const count = async (w: ConsoleWorld, type: string) =>
  (await w.t.broker.store.readAll({ limit: 100_000 })).filter((e) => e.type === type).length;

describe('operator console actions: confirm first, CSRF, then say what happened', () => {
  let w: ConsoleWorld;
  beforeAll(async () => {
    w = await startConsoleWorld();
  });
  afterAll(async () => w?.stop());

  it('refuses every destructive form post without the session CSRF token (or with a wrong one), changing nothing', async () => {
    const page = (await w.admin.get(`/admin/users/${w.ann.id}`)).body;
    const session = /href="(\/admin\/users\/[^"]+\/sessions\/[^"/]+\/revoke)"/.exec(page)![1];
    const grant = /href="(\/admin\/users\/[^"]+\/credentials\/[^"]+\/revoke)"/.exec(page)![1];
    const u = `/admin/users/${w.ann.id}`;
    for (const path of [`${u}/ban`, `${u}/unban`, `${u}/disable`, `${u}/enable`, `${u}/sessions/revoke-all`, session, grant]) {
      for (const csrf of [null, 'forged-token']) {
        const body: Record<string, string> = {
          confirm: 'yes',
          ...(csrf ? { _csrf: csrf } : {}),
          ...(/(ban|able)$/.test(path) ? { reason: 'x' } : {}),
        };
        const r = await w.admin.postForm(path, body);
        expect(r.res.status, path).toBe(403);
        expect(r.body, path).toContain('form token is missing or wrong');
      }
    }
    const ann = w.t.broker.read.users.get(w.ann.id)!;
    expect([ann.banned, ann.disabled]).toEqual([null, false]);
    expect(w.t.broker.read.sessions.forUser(w.ann.id)).toHaveLength(1);
    expect(await count(w, 'GrantRevoked')).toBe(0);
  });

  it('revokes an OAuth grant after a confirmation page; the refresh token stops working', async () => {
    const page = (await w.admin.get(`/admin/users/${w.ann.id}`)).body;
    const link = /href="(\/admin\/users\/[^"]+\/credentials\/[^"]+\/revoke)"/.exec(page)![1];
    const ask = await w.admin.get(link);
    expect(ask.body).toContain('Revoke Ann Example&#39;s access for web?');
    expect(ask.body).toContain('its refresh token and every access token minted from it');
    expect(await count(w, 'GrantRevoked')).toBe(0);
    expect((await w.admin.postForm(link, { confirm: 'yes' })).res.status).toBe(403); // no CSRF token
    expect((await w.admin.postForm(link, { confirm: 'yes', _csrf: 'forged' })).res.status).toBe(403);
    expect(await count(w, 'GrantRevoked')).toBe(0);
    const done = await w.admin.postForm(link, { confirm: 'yes', _csrf: field(ask.body, '_csrf') });
    expect(done.body).toContain('data-testid="flash"');
    expect(done.body).toContain('Grant revoked');
    expect(done.body).toContain('<span class="badge revoked">revoked</span>');
    const introspect = await postForm(w.t.url, '/oauth/introspect', { token: w.ann.refreshToken }, basic('web', WEB_SECRET));
    expect(introspect.body.active).toBe(false);
  });

  it('ends one session after confirmation: the browser is logged out', async () => {
    const page = (await w.admin.get(`/admin/users/${w.ann.id}`)).body;
    const link = /href="(\/admin\/users\/[^"]+\/sessions\/[^"/]+\/revoke)"/.exec(page)![1];
    const ask = await w.admin.get(link);
    expect(ask.body).toContain('End this session of Ann Example?');
    expect((await w.ann.browser.request('/')).status).toBe(200);
    const done = await w.admin.postForm(link, { confirm: 'yes', _csrf: field(ask.body, '_csrf') });
    expect(done.body).toContain('Session ended.');
    expect(done.body).toContain('Sessions (0)');
    expect((await w.ann.browser.request('/')).status).toBe(303);
    expect((await w.admin.get(link)).res.status).toBe(404); // gone
  });

  it('bans with a reason after confirmation, says what happened, shows the delivery to the site, and retries it', async () => {
    const ask = await w.admin.get(`/admin/users/${w.ann.id}/ban`);
    expect(ask.body).toContain('Ban Ann Example?');
    expect(ask.body).toContain('notify 1 site(s) with a webhook');
    expect(ask.body).toMatch(/<label for="reason">[^<]+<\/label><br><textarea id="reason" name="reason" required/);
    const csrf = field(ask.body, '_csrf');
    // No reason: a clear 400, nothing recorded.
    const noReason = await w.admin.postForm(`/admin/users/${w.ann.id}/ban`, { confirm: 'yes', _csrf: csrf, reason: '' });
    expect(noReason.res.status).toBe(400);
    expect(await count(w, 'UserBanned')).toBe(0);
    const done = await w.admin.postForm(`/admin/users/${w.ann.id}/ban`, { confirm: 'yes', _csrf: csrf, reason: 'spam in the forum' });
    expect(new URL(done.url).pathname).toBe(`/admin/users/${w.ann.id}`);
    expect(done.body).toContain('User banned.');
    expect(done.body).toMatch(
      /data-testid="status"><span class="badge banned">banned<\/span> spam in the forum — by <a href="\/admin\/users\/[^"]+">Root<\/a>/,
    );
    // The actor is named, never the raw `admin:<uuid>`, on the timeline too.
    expect(done.body).not.toContain(`admin:${w.adminId}`);

    await waitUntil(() => w.forum.acked.length === 1, 10_000, 'the forum acknowledges the ban');
    await waitUntil(
      async () => (await w.admin.get('/admin/sites')).body.includes('<span class="badge delivered">delivered</span>'),
      10_000,
      'the console shows the delivery',
    );
    const sites = (await w.admin.get('/admin/sites')).body;
    expect(sites).toMatch(/ban of <a href="\/admin\/users\/[^"]+">Ann Example<\/a>/);

    // Retry: CSRF-checked, then re-queued and delivered again (same notification).
    const form = { banEventId: field(sites, 'banEventId'), siteId: 'forum', back: '/admin/sites' };
    expect((await w.admin.postForm('/admin/deliveries/retry', form)).res.status).toBe(403);
    expect(
      (await w.admin.postForm('/admin/deliveries/retry', { ...form, back: 'https://evil.example/', _csrf: field(sites, '_csrf') })).res
        .status,
    ).toBe(400);
    const retried = await w.admin.postForm('/admin/deliveries/retry', { ...form, _csrf: field(sites, '_csrf') });
    expect(new URL(retried.url).pathname).toBe('/admin/sites');
    expect(retried.body).toContain('Delivery queued again');
    expect(await count(w, 'BanNotificationRequeued')).toBe(1);
    await waitUntil(() => w.forum.acked.length === 2, 10_000, 'the forum gets it again');
    expect(w.forum.acked[1].headers['webhook-id']).toBe(w.forum.acked[0].headers['webhook-id']);
  });

  it('"as of" shows the account before the ban', async () => {
    const ban = (await w.t.broker.store.readAll({ limit: 100_000 })).find((e) => e.type === 'UserBanned')!;
    const before = await w.admin.get(`/admin/users/${w.ann.id}?asOf=${ban.position - 1}`);
    expect(before.body).toContain('data-testid="asof-status"><span class="badge active">active');
    const after = await w.admin.get(`/admin/users/${w.ann.id}?asOf=${ban.position}`);
    expect(after.body).toContain('data-testid="asof-status"><span class="badge banned">banned');
  });

  it('unbans through the same confirmation; the JSON API still acts at once with its CSRF header', async () => {
    const ask = await w.admin.get(`/admin/users/${w.ann.id}/unban`);
    const done = await w.admin.postForm(`/admin/users/${w.ann.id}/unban`, { confirm: 'yes', _csrf: field(ask.body, '_csrf') });
    expect(done.body).toContain('Ban lifted.');
    const api = await w.admin.request(`/admin/users/${w.ann.id}/disable`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': await csrfOf(w.admin) },
      body: JSON.stringify({ reason: 'api' }),
    });
    expect(api.status).toBe(200);
    expect(((await api.json()) as { status: string }).status).toBe('disabled');
  });
});
