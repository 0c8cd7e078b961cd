import Database from 'better-sqlite3';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { client } from '../../helpers/cookie-jar.js';
import { createPasswordUser } from '../../helpers/users.js';
import { PW } from '../oauth-server/harness.js';
import { passwordStep } from '../password-login/flows.js';
import { HANDOFF_SECRET, WEB_SECRET, startConsoleWorld, type ConsoleWorld } from './console-fixture.js';

const SCREENS = ['/admin', '/admin/users', '/admin/sites', '/admin/clients', '/admin/idps', '/admin/events'];

describe('operator console screens (real server, SQLite log)', () => {
  let w: ConsoleWorld;
  beforeAll(async () => {
    w = await startConsoleWorld();
  });
  afterAll(async () => w?.stop());

  it('serves every screen to an admin, with the console stylesheet, the favicon and the current section marked', async () => {
    for (const path of [...SCREENS, `/admin/users/${w.ann.id}`]) {
      const r = await w.admin.get(path);
      expect(r.res.status, path).toBe(200);
      expect(r.res.headers.get('content-security-policy'), path).toContain("style-src 'self'");
      expect(r.body, path).toContain('<link rel="stylesheet" href="/admin/assets/console.css">');
      expect(r.body, path).toContain('<link rel="icon" href="/favicon.svg"');
      expect(r.body, path).toMatch(/aria-current="page"/);
      expect(r.body, path).not.toMatch(/style="/); // the CSP forbids inline styles
    }
    const css = await w.admin.request('/admin/assets/console.css');
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect(await css.text()).toContain(':focus-visible');
    for (const icon of ['/favicon.svg', '/favicon.ico']) {
      const r = await client(w.t.url).request(icon);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    }
  });

  it('is for administrators only: anonymous browsers go to log in, other users get 403', async () => {
    for (const path of SCREENS) {
      const anon = await client(w.t.url).request(path);
      expect(anon.status, path).toBe(303);
      expect(anon.headers.get('location'), path).toMatch(/^\/login\?lr=/);
    }
    await createPasswordUser(w.t.broker, { email: 'bob@example.com', password: PW });
    const bob = client(w.t.url);
    expect((await passwordStep(bob, 'bob@example.com', PW)).res.status).toBe(200);
    for (const path of [...SCREENS, `/admin/users/${w.ann.id}`, `/admin/users/${w.ann.id}/ban`]) {
      const r = await bob.get(path);
      expect(r.res.status, path).toBe(403);
      expect(r.body, path).not.toContain('ann@example.com');
    }
  });

  it('dashboard: logins, failures and bans as server-side SVG charts with text alternatives', async () => {
    await passwordStep(client(w.t.url), 'ann@example.com', 'wrong password');
    const r = await w.admin.get('/admin?range=48h');
    expect(r.body.match(/<svg [^>]*role="img"/g)).toHaveLength(3);
    // Ann, the admin (setup + login) logged in; one failure above.
    expect(r.body).toMatch(/Logins \(last 48 hours, per hour\)/);
    expect(/id="chart-failures".*?<desc[^>]*>(\d+) in total/s.exec(r.body)![1]).toBe('1');
    expect(Number(/id="chart-logins".*?<desc[^>]*>(\d+) in total/s.exec(r.body)![1])).toBeGreaterThanOrEqual(2);
    expect((await w.admin.get('/admin?range=1y')).res.status).toBe(400);
  });

  it('users: search, filters (admin, provider, status) and keyset pages that keep the filters', async () => {
    for (let i = 0; i < 5; i++) await createPasswordUser(w.t.broker, { email: `page${i}@example.com`, password: PW });
    const search = await w.admin.get('/admin/users?q=ann');
    expect(search.body).toContain('ann@example.com');
    expect(search.body).not.toContain('root@example.com');
    const admins = await w.admin.get('/admin/users?role=admin');
    expect(admins.body).toContain('root@example.com');
    expect(admins.body).not.toContain('ann@example.com');
    const pw = await w.admin.get('/admin/users?provider=password');
    expect(pw.body).toContain('ann@example.com');
    const first = await w.admin.get('/admin/users?q=page&limit=2');
    const next = /href="(\/admin\/users\?[^"]*after=\d+[^"]*)" rel="next"/.exec(first.body)![1].replace(/&amp;/g, '&');
    expect(next).toContain('q=page');
    const second = await w.admin.get(next);
    const emails = (b: string) => [...b.matchAll(/>(page\d@example\.com)</g)].map((m) => m[1]);
    expect(emails(first.body)).toEqual(['page4@example.com', 'page3@example.com']);
    expect(emails(second.body)).toEqual(['page2@example.com', 'page1@example.com']);
    expect((await w.admin.get('/admin/users?status=weird')).res.status).toBe(400);
    expect((await w.admin.get('/admin/users?after=abc')).res.status).toBe(400);
  });

  it('user page: password/TOTP status in words, identities, sessions, grants, and a timeline of what matters with names for actors', async () => {
    const page = (await w.admin.get(`/admin/users/${w.ann.id}`)).body;
    expect(page).toContain('Password set');
    expect(page).toContain('No TOTP');
    expect(page).not.toContain('- / -');
    expect(page).toContain('Sessions (1)');
    expect(page).toMatch(/<td>web<\/td><td>OAuth grant/);
    expect(page).not.toContain('data-event-type="ReservationClaimed"');
    expect(page).toContain('data-event-type="LoginSucceeded"');
    const root = (await w.admin.get(`/admin/users/${w.adminId}`)).body;
    expect(root).toContain('TOTP enrolled');
    expect((await w.admin.get('/admin/users/no-such-user')).res.status).toBe(404);
    expect((await w.admin.get('/admin/users/bad%20id!')).res.status).toBe(400);
  });

  it('sites: handoff key ids with their age, never a secret; clients and identity providers', async () => {
    const sites = (await w.admin.get('/admin/sites')).body;
    expect(sites).toContain('Community forum');
    expect(sites).toMatch(/<code>forum-2026<\/code> <span class="badge info">signing<\/span> <span class="small">added <time/);
    expect(sites).toContain('less than a minute old');
    expect(sites).not.toContain(HANDOFF_SECRET);
    const clients = (await w.admin.get('/admin/clients')).body;
    expect(clients).toContain('Web App');
    expect(clients).toMatch(/data-client="web"[\s\S]*?<td>1<\/td>/); // Ann's live grant
    expect(clients).not.toContain(WEB_SECRET);
    const idps = (await w.admin.get('/admin/idps')).body;
    expect(idps).toContain('data-idp="password"');
    expect(idps).toContain('href="/admin/users?provider=password"');
  });

  it("event log: pages by position, filters by type, user and time, and shows each event's chain check (a tampered row shows broken)", async () => {
    const head = await w.t.broker.store.headPosition();
    const positions = (b: string) => [...b.matchAll(/data-position="(\d+)"/g)].map((m) => Number(m[1]));
    const p1 = await w.admin.get('/admin/events?limit=5');
    expect(positions(p1.body)).toEqual([head, head - 1, head - 2, head - 3, head - 4]);
    expect(p1.body).toContain('every event shown verifies');
    const older = /href="(\/admin\/events\?[^"]*before=\d+[^"]*)" rel="next"/.exec(p1.body)![1].replace(/&amp;/g, '&');
    expect(positions((await w.admin.get(older)).body)).toEqual([head - 5, head - 6, head - 7, head - 8, head - 9]);
    const byType = await w.admin.get('/admin/events?type=UserRegistered');
    expect(new Set([...byType.body.matchAll(/<td><a href="\/admin\/events\?type=(\w+)"/g)].map((m) => m[1]))).toEqual(
      new Set(['UserRegistered']),
    );
    const byUser = await w.admin.get(`/admin/events?user=${w.ann.id}&type=LoginSucceeded`);
    expect(positions(byUser.body)).toHaveLength(1);
    const future = await w.admin.get(`/admin/events?from=${new Date(w.t.clock.now().getTime() + 3600_000).toISOString().slice(0, 16)}`);
    expect(positions(future.body)).toEqual([]);
    const past = await w.admin.get(`/admin/events?to=${new Date(w.t.clock.now().getTime() + 3600_000).toISOString().slice(0, 16)}&limit=1`);
    expect(positions(past.body)).toEqual([head]);
    expect((await w.admin.get('/admin/events?before=abc')).res.status).toBe(400);
    expect((await w.admin.get('/admin/events?from=yesterday')).res.status).toBe(400);

    const db = new Database(w.storePath);
    // (The email is sealed in the log: the row is found by user id.)
    expect(
      db
        .prepare(
          `UPDATE events SET data = json_set(data, '$.name', 'Mallory') WHERE type = 'UserRegistered' AND json_extract(data, '$.userId') = ?`,
        )
        .run(w.ann.id).changes,
    ).toBe(1);
    db.close();
    const tampered = await w.admin.get(`/admin/events?user=${w.ann.id}&type=UserRegistered`);
    expect(tampered.body).toContain('its content does not match its hash');
    expect(tampered.body).toContain('1 failed the chain check');
  });
});
