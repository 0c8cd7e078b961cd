import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetch } from 'undici';
import { storedEvents } from '../../../core/index.js';
import { startDemo, type Demo } from '../../../adapters/demo/main.js';
import { DEMO_WEBHOOK_PATH } from '../../../adapters/demo/demo-site.js';
import { decodeWebhookSecret, signStandardWebhook } from '../../../plugins/ban-broadcast/webhook-signature.js';
import { waitUntil } from '../../helpers/broker.js';
import { Browser } from '../../plugins/hmac-handoff/browser.js';
import { eventsOf } from '../../plugins/ban-broadcast/setup.js';

/** The broker's public URL in these tests; the Browser maps it to where the broker really listens. */
const BASE = 'http://broker.demo.test';
const OTHER_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

const notification = (type: 'user.banned' | 'user.unbanned', userId: string, eventId: string, timestamp: string) =>
  JSON.stringify({
    type,
    timestamp,
    data: { eventId, userId, identities: [], reason: type === 'user.banned' ? 'spam' : null, actor: 'admin:root', until: null },
  });

describe('demo: the demo site takes the broker ban webhooks', () => {
  let demo: Demo;
  beforeAll(async () => {
    demo = await startDemo({ brokerPort: 0, sitePort: 0, brokerUrl: BASE, logLevel: 'silent' });
  });
  afterAll(async () => demo.stop());

  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${demo.siteUrl}${DEMO_WEBHOOK_PATH}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const signed = (body: string, id: string, secret = demo.webhookSecret, ts = Math.floor(Date.now() / 1000)) =>
    signStandardWebhook(decodeWebhookSecret(secret), id, ts, body);

  it('runs on a SQLite log with the console and a styled site', async () => {
    expect(storedEvents(demo.broker.store).constructor.name).toBe('SqliteEventStore');
    const css = await fetch(`${demo.siteUrl}/assets/broker.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toMatch(/text\/css/);
    expect((await fetch(`${demo.siteUrl}/`)).status).toBe(200);
    // The console is there, behind a login; the demo admin exists.
    const admin = await fetch(`${demo.brokerListenUrl}/admin`, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect([302, 303]).toContain(admin.status); // a browser is sent to log in
    expect(demo.broker.read.users.findByEmail('admin@example.test')?.admin).toBe(true);
  });

  it('a ban recorded at the broker reaches the demo site: the user is marked banned there and their session ends', async () => {
    const browser = new Browser({ [BASE]: demo.brokerListenUrl });
    const here = [demo.siteUrl, BASE, demo.brokerListenUrl];
    const home = await browser.follow(`${demo.siteUrl}/crm-login`, here);
    expect(home.url).toBe(`${demo.siteUrl}/`);
    expect(home.body).toContain('Logged in as <strong>CRM User</strong>');
    const [user] = [...demo.site.users.values()];
    expect(user.banned).toBe(false);

    await demo.broker.users.execute(user.sub, { type: 'ban', reason: 'spam', actor: 'admin:demo' }, { actor: 'admin:demo' });
    await waitUntil(() => demo.site.isBanned(user.sub), 4000, 'the demo site to mark the user banned');
    expect(demo.site.users.get(user.sub)?.banned).toBe(true);
    expect((await browser.follow(`${demo.siteUrl}/`, here)).body).toContain('You are not logged in');
    await waitUntil(
      async () => (await eventsOf(demo.broker.store, 'BanNotificationDelivered')).length === 1,
      2000,
      'the broker to record the delivery',
    );
    const [delivered] = await eventsOf(demo.broker.store, 'BanNotificationDelivered');
    expect(delivered.data).toMatchObject({ siteId: 'demo', status: 204 });
  });

  it('refuses a tampered, wrongly signed, unsigned or stale webhook with 401 and marks no one', async () => {
    const body = notification('user.banned', 'user-a', 'ban-1', new Date().toISOString());
    const headers = signed(body, 'ban-1');
    const refused = [
      await post(body.replace('user-a', 'user-b'), headers), // tampered body
      await post(body, { ...headers, 'webhook-id': 'ban-2' }), // signature moved to another id
      await post(body, signed(body, 'ban-1', OTHER_SECRET)), // someone else's secret
      await post(body, { 'webhook-id': 'ban-1', 'webhook-timestamp': headers['webhook-timestamp'] }), // unsigned
      await post(body, signed(body, 'ban-1', demo.webhookSecret, Math.floor(Date.now() / 1000) - 600)), // replayed long after
    ];
    expect(refused.map((r) => r.status)).toEqual([401, 401, 401, 401, 401]);
    expect(demo.site.isBanned('user-a')).toBe(false);
    expect(demo.site.isBanned('user-b')).toBe(false);

    // The same delivery, untouched, is accepted.
    expect((await post(body, headers)).status).toBe(204);
    expect(demo.site.isBanned('user-a')).toBe(true);
    expect(demo.site.isBanned('user-b')).toBe(false);
  });

  it('applies an unban, and ignores an older ban retried after it', async () => {
    const t0 = Date.now();
    const ban = notification('user.banned', 'user-c', 'ban-1', new Date(t0).toISOString());
    const unban = notification('user.unbanned', 'user-c', 'unban-1', new Date(t0 + 1000).toISOString());
    expect((await post(ban, signed(ban, 'ban-1'))).status).toBe(204);
    expect(demo.site.isBanned('user-c')).toBe(true);
    expect((await post(unban, signed(unban, 'unban-1'))).status).toBe(204);
    expect(demo.site.isBanned('user-c')).toBe(false);
    expect((await post(ban, signed(ban, 'ban-1'))).status).toBe(204); // a retry of the old ban: acknowledged
    expect(demo.site.isBanned('user-c')).toBe(false);
  });
});
