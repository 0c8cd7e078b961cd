import { describe, it, expect, afterEach } from 'vitest';
import type { AddressInfo } from 'node:net';
import { createDemoSite, type DemoSite } from '../../../adapters/demo/demo-site.js';
import { verifyHandoff } from '../../../plugins/hmac-handoff/verify.js';
import { Browser } from './browser.js';
import { BASE, SITE_A_KEYS, SITE_B_KEYS, eventsOf, postInbound, sites, start, type Running } from './setup.js';

describe('signed handoff end to end', () => {
  let running: Running | undefined;
  let site: DemoSite | undefined;
  afterEach(async () => {
    await running?.broker.stop();
    await site?.app.close();
  });

  it('logs a user into a demo site through the broker, then into a second site from the session alone', async () => {
    site = await createDemoSite({ siteId: 'site-a', title: 'Site A', keys: SITE_A_KEYS, brokerUrl: BASE, publicUrl: '' });
    await site.app.listen({ port: 0, host: '127.0.0.1' });
    const siteUrl = `http://127.0.0.1:${(site.app.server.address() as AddressInfo).port}`;
    site.options.publicUrl = siteUrl;
    running = await start(sites({ aReturn: `${siteUrl}/callback` }));
    const browser = new Browser({ [BASE]: running.url });
    const here = [siteUrl, BASE, running.url];

    // 1. The site sends the browser to the broker; no session, so the broker's login page sends it
    //    on to the only interactive provider: the customer's auth server (a login request in hand).
    const away = await browser.follow(`${siteUrl}/login`, here);
    expect(away.url.startsWith('https://crm.customer.test/login?lr=')).toBe(true);
    const lr = new URL(away.url).searchParams.get('lr')!;

    // 2. The customer's server authenticates the user its own way and hands them in.
    const handed = await postInbound(running.url, { sub: 'ext-42', email: 'ada@customer.test', name: 'Ada Lovelace', lr });
    expect(handed.status).toBe(201);
    const oneTime = String(handed.json.url);
    expect(oneTime.startsWith(`${BASE}/handoff/crm/enter?token=`)).toBe(true);

    // 3. The browser redeems the URL: broker session, signed redirect to the site, site verifies and shows the user.
    const done = await browser.follow(oneTime, here);
    expect(done.status).toBe(200);
    expect(done.url).toBe(`${siteUrl}/`);
    expect(done.body).toContain('Logged in as <strong>Ada Lovelace</strong>');
    const stored = [...site.users.values()];
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ email: 'ada@customer.test', name: 'Ada Lovelace' });
    const userId = stored[0].sub;
    expect(running.broker.read.users.get(userId)?.identities).toEqual([{ issuer: 'handoff:crm', subject: 'ext-42' }]);

    // 4. A second site: the session answers at once, no login page, and the verifier accepts the signature.
    const nonce = 'site-b-nonce-0123456789';
    const second = await browser.follow(
      `${BASE}/sso/site-b?return_to=${encodeURIComponent('https://site-b.test/cb')}&nonce=${nonce}`,
      here,
    );
    const back = new URL(second.url);
    expect(back.origin + back.pathname).toBe('https://site-b.test/cb');
    const seen = new Set<string>();
    const v = await verifyHandoff(back.searchParams, SITE_B_KEYS, {
      now: Date.now(),
      expectedSite: 'site-b',
      expectedNonce: nonce,
      seenNonce: (n) => (seen.has(n) ? true : (seen.add(n), false)),
    });
    expect(v).toMatchObject({ version: 'v2', sub: userId, fields: { email: 'ada@customer.test' }, kid: 'b1' });
    expect(v.exp! - v.iat!).toBe(30); // the site's own ttlSeconds
    expect(back.searchParams.get('name')).toBeNull(); // site B is configured for email only

    // What was recorded: both handoffs, with key ids and nonces, never a secret or a signature.
    const issued = await eventsOf(running.broker, 'HandoffIssued');
    expect(issued.map((e) => e.siteId)).toEqual(['site-a', 'site-b']);
    expect(issued[1]).toMatchObject({ userId, kid: 'b1', version: 'v2', siteNonce: nonce, brokerNonce: v.brokerNonce });
    const log = JSON.stringify(await running.broker.store.readAll({ limit: 10_000 }));
    for (const k of [...SITE_A_KEYS, ...SITE_B_KEYS]) expect(log).not.toContain(k.secret);
    expect(log).not.toContain(back.searchParams.get('sig'));
    expect(log).not.toContain(oneTime.split('token=')[1]);
  });

  it('the demo site refuses the same signed redirect twice and a redirect meant for another browser', async () => {
    site = await createDemoSite({ siteId: 'site-a', title: 'Site A', keys: SITE_A_KEYS, brokerUrl: BASE, publicUrl: '' });
    await site.app.listen({ port: 0, host: '127.0.0.1' });
    const siteUrl = `http://127.0.0.1:${(site.app.server.address() as AddressInfo).port}`;
    site.options.publicUrl = siteUrl;
    running = await start(sites({ aReturn: `${siteUrl}/callback` }));
    const browser = new Browser({ [BASE]: running.url });
    const handed = await postInbound(running.url, { sub: 'ext-7', email: 'bob@customer.test', return_to: '/welcome' });
    await browser.follow(String(handed.json.url), [BASE, running.url]);

    const toBroker = await browser.get(`${siteUrl}/login`);
    const nonceCookie = browser.cookie(siteUrl, 'demo_nonce')!;
    const atSite = await browser.follow(toBroker.location!, [BASE, running.url]);
    const callback = atSite.url;
    expect(callback.startsWith(`${siteUrl}/callback?`)).toBe(true);
    expect((await browser.get(callback)).status).toBe(303);
    // Replayed by someone who also holds the nonce cookie: the broker nonce was already seen.
    const replayer = new Browser();
    replayer.setCookie(siteUrl, 'demo_nonce', nonceCookie);
    const again = await replayer.get(callback);
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('replayed');

    // A redirect captured from another browser: this browser never started that attempt (nonce).
    const other = new Browser({ [BASE]: running.url });
    const stolen = await other.get(callback);
    expect(stolen.status).toBe(400);
    expect(await stolen.text()).toContain('nonce_mismatch');
  });
});
