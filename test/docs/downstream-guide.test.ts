import fs from 'node:fs';
import path from 'node:path';
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import ts from 'typescript';
import { loadConfig } from '../../config/load.js';
import { checkPluginConfigs } from '../../config/plugin-configs.js';
import type { SiteConfig } from '../../config/types.js';
import { checkSiteHandoffConfig } from '../../plugins/hmac-handoff/outbound.js';
import { Browser } from '../plugins/hmac-handoff/browser.js';
import { postInbound } from '../plugins/hmac-handoff/setup.js';
import { banSomeone, eventsOf } from '../plugins/ban-broadcast/setup.js';
import { until } from '../plugins/ban-broadcast/receivers.js';
import { havePython, readBlocks, runPython } from './guide-blocks.js';
import { FORUM_KEYS, WHSEC, startGuideSite, type GuideSite } from './guide-site.js';

/**
 * docs/downstream-sites.md is what site developers copy. Its blocks marked `runnable=<file>` are
 * written to a scratch directory exactly as printed and run against a real broker on 127.0.0.1: a
 * fastify "site" registers the JS/TS examples, the broker hands a logged-in user to it and POSTs
 * it real ban notifications; each example must accept the genuine message and refuse it tampered.
 * The Python examples run under python3 (skipped when it is missing, unless BROKER_REQUIRE_EXTERNAL=1).
 */
const GUIDE = 'docs/downstream-sites.md';
const blocks = readBlocks(GUIDE);
const python = havePython();
// Like PostgreSQL and Chromium: skipped with a message on a bare machine, a failure in CI.
const requirePython = process.env.BROKER_REQUIRE_EXTERNAL === '1';
if (!python && !requirePython)
  console.warn('[docs] Python examples skipped: python3 not found (set BROKER_REQUIRE_EXTERNAL=1 to make this a failure)');
const runsPython = python || requirePython;
const needPython = (): void => {
  if (!python) throw new Error('python3 is required (BROKER_REQUIRE_EXTERNAL=1) but absent');
};

let g: GuideSite;
beforeAll(async () => {
  g = await startGuideSite(blocks);
});
afterAll(async () => {
  await g?.stop();
});

describe('docs/downstream-sites.md', () => {
  it('marks every js, ts, python and yaml example as runnable or as a fragment', () => {
    const unmarked = blocks.filter((b) => ['js', 'ts', 'python', 'yaml'].includes(b.lang) && !b.runnable && !b.fragment);
    expect(unmarked.map((b) => `${GUIDE}:${b.line}`)).toEqual([]);
    expect(
      blocks
        .filter((b) => b.runnable)
        .map((b) => b.runnable)
        .sort(),
    ).toEqual(
      [
        'handoff-site.yaml',
        'handoff.py',
        'secevent-site.yaml',
        'security-events.js',
        'sso.ts',
        'tlog-verify.js',
        'tlog_verify.py',
        'verify-webhook.js',
        'webhook-site.yaml',
        'webhook.py',
        'webhooks.js',
      ].sort(),
    );
  });

  /** Loads a YAML snippet as the broker would (core schema), then every plugin section and the handoff site checks. */
  const validate = async (name: string, yaml: string): Promise<SiteConfig[]> => {
    const file = path.join(g.dir, `check-${name}`);
    fs.writeFileSync(file, yaml);
    const env = { FORUM_HANDOFF_KEY: 'k'.repeat(44), FORUM_WEBHOOK_SECRET: WHSEC, FORUM_WHSEC: WHSEC, CRM_HANDOFF_SECRET: 'c'.repeat(40) };
    const { config } = loadConfig({ argv: ['--config', file], env, cwd: '/' });
    expect((await checkPluginConfigs(config)).errors, name).toEqual([]);
    checkSiteHandoffConfig(config.sites);
    return config.sites;
  };

  it('its broker config snippets load and validate', async () => {
    for (const b of blocks.filter((x) => x.runnable?.endsWith('.yaml'))) {
      expect((await validate(b.runnable!, b.code))[0].id).toBe('forum');
    }
  });

  it('the config blocks of the plugin READMEs it points to validate too', async () => {
    for (const readme of ['plugins/hmac-handoff/README.md', 'plugins/ban-broadcast/README.md']) {
      const yaml = readBlocks(readme).filter((b) => b.lang === 'yaml');
      expect(yaml.length, readme).toBeGreaterThan(0);
      for (const b of yaml)
        expect((await validate(`${path.basename(path.dirname(readme))}-${b.line}.yaml`, b.code)).length).toBeGreaterThan(0);
    }
  });

  it('its TypeScript handoff example compiles under strict with the copied verify.ts', () => {
    const program = ts.createProgram([path.join(g.dir, 'sso.ts')], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'],
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(problems).toEqual([]);
  });
});

describe('signed handoff examples, against a real broker', () => {
  let browser: Browser;
  let userId: string;

  /** The site's /login, then the broker's answer: the signed callback URL, not yet delivered. */
  const signedCallback = async (b: Browser, siteId = 'forum'): Promise<string> => {
    const toBroker = await b.get(`${g.siteUrl}/login`);
    expect(toBroker.status).toBe(302);
    const sso = new URL(toBroker.location!);
    expect(sso.origin + sso.pathname).toBe(`${g.brokerUrl}/sso/forum`);
    if (siteId !== 'forum') {
      sso.pathname = `/sso/${siteId}`;
      sso.searchParams.set('return_to', `${g.siteUrl}/blog/callback`);
    }
    const back = await b.get(sso.href);
    expect(back.status).toBe(303);
    return back.location!;
  };
  const atCallback = (signed: string): string => {
    const u = new URL(signed);
    return `${g.siteUrl}/sso/callback${u.search}`;
  };
  const refusal = async (b: Browser, url: string): Promise<string> => {
    const r = await b.get(url);
    expect(r.status).toBe(400);
    return r.text();
  };

  beforeAll(async () => {
    // A browser with a broker session (the customer server's inbound handoff logs it in).
    browser = new Browser();
    const handed = await postInbound(g.brokerUrl, { sub: 'ext-ada', email: 'ada@customer.test', name: 'Ada', return_to: '/welcome' });
    expect(handed.status).toBe(201);
    await browser.follow(String(handed.json.url), [g.brokerUrl]);
    userId = (await g.broker.users.findByIdentity('handoff:crm', 'ext-ada'))!;
    expect(userId).toBeTruthy();
  });

  it('sso.ts logs the user in from a genuine handoff and refuses it tampered, replayed, unasked for, for another site or expired', async () => {
    const signed = await signedCallback(browser);
    const tampered = new URL(signed);
    tampered.searchParams.set('email', 'admin@customer.test');
    expect(await refusal(browser, tampered.href)).toBe('login refused: bad_signature');

    // The nonce cookie was cleared by that refusal: a new attempt, delivered untouched.
    const genuine = await signedCallback(browser);
    const ok = await browser.get(genuine);
    expect(ok.status).toBe(200);
    expect(JSON.parse(await ok.text())).toEqual({ welcome: userId });
    expect(g.logins).toEqual([
      {
        version: 'v2',
        sub: userId,
        fields: { email: 'ada@customer.test', name: 'Ada' },
        kid: 'forum-2026',
        iat: expect.any(Number),
        exp: expect.any(Number),
        brokerNonce: expect.any(String),
      },
    ]);

    // The same URL again, from a browser that still holds that attempt's nonce: single use.
    const replayer = new Browser();
    replayer.setCookie(g.siteUrl, 'sso_nonce', new URL(genuine).searchParams.get('nonce')!);
    expect(await refusal(replayer, genuine)).toBe('login refused: replayed');

    // Delivered to a browser that started no login (login CSRF): no nonce cookie at all.
    const planted = await signedCallback(browser);
    expect(await refusal(new Browser(), planted)).toBe('login refused: nonce_mismatch');

    // Made for the blog (same key, by mistake), brought to the forum's callback with the forum's nonce.
    expect(await refusal(browser, atCallback(await signedCallback(browser, 'blog')))).toBe('login refused: wrong_audience');

    // Issued by a broker whose clock is 2 minutes behind: past exp + 30 s of skew.
    g.clock.offsetMs = -120_000;
    const stale = await signedCallback(browser).finally(() => (g.clock.offsetMs = 0));
    expect(await refusal(browser, stale)).toBe('login refused: expired');
    expect(g.logins).toHaveLength(1);
  });

  it.skipIf(!runsPython)(
    'handoff.py (run with python3) accepts the genuine redirect and refuses it tampered, replayed, unasked for or for another site',
    async () => {
      needPython();
      const signed = new URL(await signedCallback(browser));
      const nonce = signed.searchParams.get('nonce')!;
      const query = signed.search.slice(1);
      const keys = Object.fromEntries(FORUM_KEYS.map((k) => [k.kid, k.secret]));
      const tampered = new URLSearchParams(signed.search);
      tampered.set('name', 'Ada Admin');
      const repeated = `${query}&email=evil%40x.test`;
      const c = (q: string, over: Record<string, unknown> = {}) => ({ query: q, keys, site_id: 'forum', nonce, ...over });
      const { handoff } = runPython<{ handoff: { ok?: unknown; error?: string }[] }>(g.dir, {
        handoff: [
          c(tampered.toString()),
          c(repeated),
          c(query, { keys: { other: 'x' } }),
          c(query, { site_id: 'blog' }),
          c(query, { nonce: null }),
          c(query, { nonce: 'another-attempt-0123456' }),
          c(query),
          c(query),
        ],
        webhook: [],
      });
      expect(handoff).toEqual([
        { error: 'bad_signature' },
        { error: 'malformed' },
        { error: 'unknown_kid' },
        { error: 'wrong_audience' },
        { error: 'nonce_mismatch' },
        { error: 'nonce_mismatch' },
        { ok: { sub: userId, fields: { email: 'ada@customer.test', name: 'Ada' } } },
        { error: 'replayed' },
      ]);
    },
  );
});

describe('ban webhook examples, against a real broker', () => {
  let userId: string;
  let std: { headers: Record<string, string>; body: string };
  let set: { headers: Record<string, string>; body: string };
  const sign = (id: string, ts: number, body: string): Record<string, string> => ({
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(ts),
    // Signed by the standardwebhooks package itself, an implementation independent of the guide's.
    'webhook-signature': new Webhook(WHSEC).sign(id, new Date(ts * 1000), body),
  });
  const nowSec = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    ({ userId } = await banSomeone(g.broker, 'spam', 'ext-spammer'));
    await until(
      async () =>
        (await eventsOf(g.broker.store, 'BanNotificationDelivered')).length === 2 &&
        (await eventsOf(g.broker.store, 'BanNotificationAbandoned')).length === 1,
      8000,
      'the three deliveries',
    );
    // What was signed, without the transport headers (content-length...) that a re-POST recomputes.
    const keep = (h: Record<string, string>) =>
      Object.fromEntries(Object.entries(h).filter(([k]) => k === 'content-type' || k.startsWith('webhook-')));
    const got = g.posts.find((p) => p.url === '/webhooks/broker')!;
    std = { headers: keep(got.headers), body: got.body };
    const audience = (jwt: string): unknown => (JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as { aud: unknown }).aud;
    set = g.posts.find((p) => p.url === '/events/broker' && audience(p.body) === 'forum-set')!;
  });

  it('webhooks.js (standardwebhooks) applies a genuine ban once and refuses it tampered or stale', async () => {
    expect(g.std.banned).toEqual([userId]);
    const delivered = (await eventsOf(g.broker.store, 'BanNotificationDelivered')).map((e) => e.data);
    expect(delivered).toContainEqual(expect.objectContaining({ siteId: 'forum', status: 204 }));

    // A retry (same webhook-id, signed anew as the broker does): acknowledged, not applied twice.
    const id = std.headers['webhook-id'];
    expect((await g.post('/webhooks/broker', sign(id, nowSec(), std.body), std.body)).status).toBe(204);
    // Tampered body, tampered signature, a timestamp outside the 5-minute window, the wrong secret.
    const other = std.body.replace(userId, 'someone-else');
    expect((await g.post('/webhooks/broker', std.headers, other)).status).toBe(400);
    expect(
      (await g.post('/webhooks/broker', { ...std.headers, 'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')}` }, std.body))
        .status,
    ).toBe(400);
    expect((await g.post('/webhooks/broker', sign('fresh-id', nowSec() - 600, other), other)).status).toBe(400);
    const forged = sign('fresh-id', nowSec(), other);
    forged['webhook-signature'] =
      `v1,${createHmac('sha256', Buffer.alloc(32, 1)).update(`fresh-id.${forged['webhook-timestamp']}.${other}`).digest('base64')}`;
    expect((await g.post('/webhooks/broker', forged, other)).status).toBe(400);
    // Correctly signed, but older than the ban already applied (a delayed retry): acknowledged and ignored.
    const older = JSON.stringify({ ...JSON.parse(std.body), type: 'user.unbanned', timestamp: '2000-01-01T00:00:00.000Z' });
    expect((await g.post('/webhooks/broker', sign('older-change', nowSec(), older), older)).status).toBe(204);
    expect(g.std).toEqual({ banned: [userId], unbanned: [], erased: [] });
  });

  it('verify-webhook.js (plain node:crypto) accepts the genuine delivery and refuses tampered ones', async () => {
    const { verifyBanWebhook } = await g.importScratch<{
      verifyBanWebhook: (
        s: string,
        h: Record<string, string | undefined>,
        b: string | Buffer,
      ) => { type: string; data: { userId: string } };
    }>('verify-webhook.js');
    expect(verifyBanWebhook(WHSEC, std.headers, std.body)).toMatchObject({
      type: 'user.banned',
      data: { userId, identities: ['ext-spammer@https://idp.example.com'] },
    });
    expect(verifyBanWebhook(WHSEC, std.headers, Buffer.from(std.body))).toMatchObject({ data: { userId } });
    // Several signatures (a secret rotation on the sender's side): one matching is enough.
    const rotated = {
      ...std.headers,
      'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')} ${std.headers['webhook-signature']}`,
    };
    expect(verifyBanWebhook(WHSEC, rotated, std.body)).toMatchObject({ data: { userId } });
    expect(() => verifyBanWebhook(WHSEC, std.headers, std.body.replace(userId, 'someone-else'))).toThrow('no matching signature');
    expect(() => verifyBanWebhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`, std.headers, std.body)).toThrow(
      'no matching signature',
    );
    expect(() => verifyBanWebhook(WHSEC, { ...std.headers, 'webhook-id': 'another-id' }, std.body)).toThrow('no matching signature');
    const stale = sign('x', nowSec() - 600, std.body);
    expect(() => verifyBanWebhook(WHSEC, stale, std.body)).toThrow('outside the 5-minute window');
    expect(() => verifyBanWebhook(WHSEC, { ...std.headers, 'webhook-timestamp': undefined }, std.body)).toThrow('missing or malformed');
    expect(() => verifyBanWebhook(WHSEC, { ...std.headers, 'webhook-timestamp': 'soon' }, std.body)).toThrow('missing or malformed');
    expect(() => verifyBanWebhook(WHSEC, { ...std.headers, 'webhook-signature': undefined }, std.body)).toThrow('missing or malformed');
  });

  it.skipIf(!runsPython)('webhook.py (run with python3) accepts the genuine delivery and refuses tampered ones', () => {
    needPython();
    const c = (headers: Record<string, string>, body = std.body, secret = WHSEC) => ({ secret, headers, body });
    const { webhook } = runPython<{ webhook: { ok?: unknown; error?: string }[] }>(g.dir, {
      handoff: [],
      webhook: [
        c(std.headers),
        c(std.headers, std.body.replace(userId, 'someone-else')),
        c(std.headers, std.body, `whsec_${Buffer.alloc(32, 1).toString('base64')}`),
        c(sign('x', nowSec() - 600, std.body)),
        c({ ...std.headers, 'webhook-timestamp': 'soon' }),
      ],
    });
    expect(webhook[0]).toEqual({ ok: JSON.parse(std.body) });
    expect(webhook.slice(1)).toEqual([
      { error: 'no matching signature' },
      { error: 'no matching signature' },
      { error: 'webhook-timestamp outside the 5-minute window' },
      { error: 'missing or malformed webhook headers' },
    ]);
  });

  it('security-events.js (jose, broker JWKS) applies a genuine SET with 202 and refuses a tampered one or one for another audience', async () => {
    expect(g.set.banned).toEqual([userId]);
    expect((await eventsOf(g.broker.store, 'BanNotificationDelivered')).map((e) => e.data)).toContainEqual(
      expect.objectContaining({ siteId: 'forum-set', status: 202 }),
    );
    const refused = (await eventsOf(g.broker.store, 'BanNotificationFailed')).map((e) => e.data);
    expect(refused).toContainEqual(
      expect.objectContaining({
        siteId: 'stranger',
        status: 400,
        receiverError: { err: 'invalid_audience', description: 'the SET is not for this receiver' },
      }),
    );

    const jwt = (body: string) => g.post('/events/broker', { 'content-type': 'application/secevent+jwt' }, body);
    // A retry of the same SET: acknowledged, not applied twice.
    expect((await jwt(set.body)).status).toBe(202);
    // Another subject under the broker's signature: refused.
    const [h, p, s] = set.body.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as { sub_id: { identifiers: { sub: string }[] } };
    payload.sub_id.identifiers[0].sub = 'someone-else';
    const res = await jwt(`${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ err: 'invalid_key', description: 'the signature does not verify with the broker keys' });
    expect((await jwt('not.a.jwt')).status).toBe(400);
    expect(g.set).toEqual({ banned: [userId], unbanned: [], erased: [] });
  });

  it('the unban reaches both receivers and is applied after the ban', async () => {
    await g.broker.users.execute(userId, { type: 'unban', reason: null, actor: 'admin:root' }, { actor: 'admin:root' });
    await until(() => g.std.unbanned.length === 1 && g.set.unbanned.length === 1, 8000, 'the unban at both receivers');
    expect(g.std).toEqual({ banned: [userId], unbanned: [userId], erased: [] });
    expect(g.set).toEqual({ banned: [userId], unbanned: [userId], erased: [] });
  });
});
