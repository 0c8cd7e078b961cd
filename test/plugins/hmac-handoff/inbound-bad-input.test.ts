import { createHash } from 'node:crypto';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { fetch } from 'undici';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { ManualClock } from '../../../core/index.js';
import { Browser } from './browser.js';
import { BASE, CRM_SECRET, crmServer, eventsOf, postInbound, sites, start, until, type Running } from './setup.js';

describe('inbound handoff from a customer auth server', () => {
  let r: Running;
  let partnerKey: CryptoKey;
  const clock = new ManualClock(Date.now());
  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    partnerKey = pair.privateKey;
    r = await start(
      sites(),
      {
        servers: [
          crmServer,
          {
            id: 'partner',
            name: 'Partner',
            publicKey: { ...(await exportJWK(pair.publicKey)) },
            provisioning: { policy: 'auto' },
            returnTargets: ['/welcome'],
          },
          { id: 'strict', name: 'Strict', secret: 'strict-secret-0123456789abcdef0123', returnTargets: ['/welcome'] },
        ],
      },
      clock,
    );
  });
  afterAll(async () => r.broker.stop());
  const nowS = (): number => Math.floor(clock.now().getTime() / 1000);
  const post = (body: unknown, o: Parameters<typeof postInbound>[2] = {}) => postInbound(r.url, body, { ts: nowS(), ...o });

  const expectProblem = async (
    res: { status: number; type: string | null; json: Record<string, unknown> },
    status: number,
    code: string,
  ) => {
    expect(res.status).toBe(status);
    expect(res.type).toContain('application/problem+json');
    expect(res.json.code).toBe(code);
    const rejected = await until(async () => (await eventsOf(r.broker, 'HandoffRejected')).find((e) => e.reason === code) ?? undefined);
    expect(rejected.direction).toBe('inbound');
  };

  const jwtPost = async (body: unknown, claims: Record<string, unknown> = {}, raw?: string) => {
    const text = raw ?? JSON.stringify(body);
    const jwt = await new SignJWT({ body_sha256: createHash('sha256').update(JSON.stringify(body)).digest('base64url'), ...claims })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('partner')
      .setAudience(typeof claims.aud === 'string' ? claims.aud : `${BASE}/handoff/partner`)
      .setIssuedAt(nowS())
      .setExpirationTime(nowS() + 60)
      .sign(partnerKey);
    const res = await fetch(`${r.url}/handoff/partner`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}` },
      body: text,
    });
    return { status: res.status, type: res.headers.get('content-type'), json: (await res.json()) as Record<string, unknown> };
  };

  it('logs the user in as sub@server through a one-time URL and continues to the validated return target', async () => {
    const res = await post({ sub: 'ext-100', email: 'eve@customer.test', name: 'Eve', return_to: 'https://app.customer.test/home' });
    expect(res.status).toBe(201);
    const browser = new Browser({ [BASE]: r.url });
    const out = await browser.follow(String(res.json.url), [BASE, r.url]);
    expect(out.url).toBe('https://app.customer.test/home');
    expect(browser.cookie(BASE, 'broker_session')).toBeTruthy();
    const userId = await r.broker.users.findByIdentity('handoff:crm', 'ext-100');
    expect(r.broker.read.users.get(userId!)).toMatchObject({ email: 'eve@customer.test', name: 'Eve' });
    // The same person again: linked, not provisioned twice.
    const again = await post({ sub: 'ext-100', email: 'eve@customer.test' });
    await new Browser({ [BASE]: r.url }).follow(String(again.json.url), [BASE]);
    expect(await r.broker.users.findByIdentity('handoff:crm', 'ext-100')).toBe(userId);
  });

  it('accepts a server that signs a JWT over the body, and refuses a wrong audience or a different body', async () => {
    const body = { sub: 'p-1', email: 'p1@partner.test' };
    const ok = await jwtPost(body);
    expect(ok.status).toBe(201);
    expect(ok.json.url).toBeTruthy();
    // The same JWT sent twice: refused the second time.
    const jwt = await new SignJWT({ body_sha256: createHash('sha256').update(JSON.stringify(body)).digest('base64url') })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('partner')
      .setAudience(`${BASE}/handoff/partner`)
      .setIssuedAt(nowS())
      .setExpirationTime(nowS() + 60)
      .sign(partnerKey);
    const send = () =>
      fetch(`${r.url}/handoff/partner`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}` },
        body: JSON.stringify(body),
      });
    expect((await send()).status).toBe(201);
    const again = await send();
    expect(again.status).toBe(409);
    expect(((await again.json()) as { code: string }).code).toBe('replayed');
    await expectProblem(await jwtPost(body, { aud: 'https://elsewhere.test/handoff/partner' }), 401, 'wrong_audience');
    await expectProblem(await jwtPost(body, {}, JSON.stringify({ sub: 'p-2', email: 'p1@partner.test' })), 401, 'body_mismatch');
    const noAuth = await fetch(`${r.url}/handoff/partner`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(noAuth.status).toBe(401);
  });

  it('refuses unauthenticated, stale, tampered and malformed server calls with problem+json', async () => {
    await expectProblem(await post({ sub: 'x' }, { server: 'nope' }), 404, 'unknown_server');
    await expectProblem(await post({ sub: 'x' }, { secret: 'wrong-secret-0123456789abcdef012345' }), 401, 'bad_signature');
    await expectProblem(await post({ sub: 'x' }, { ts: nowS() - 3600 }), 401, 'stale_timestamp');
    const unsigned = await fetch(`${r.url}/handoff/crm`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"sub":"x"}',
    });
    expect(unsigned.status).toBe(401);
    // Signed over one body, sent with another.
    const ts = String(nowS());
    const good = await postInbound(r.url, { sub: 'x' }, { ts: Number(ts) });
    expect(good.status).toBe(201);
    const { createHmac } = await import('node:crypto');
    const sig = createHmac('sha256', CRM_SECRET).update(`${ts}.{"sub":"x"}`).digest('hex');
    const swapped = await fetch(`${r.url}/handoff/crm`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-handoff-timestamp': ts, 'x-handoff-signature': sig },
      body: '{"sub":"admin"}',
    });
    expect(swapped.status).toBe(401);
    // The same signed request again (a captured POST replayed within the skew): refused.
    const replayed = await postInbound(r.url, { sub: 'x' }, { ts: Number(ts) });
    await expectProblem(replayed, 409, 'replayed');
    await expectProblem(await post(null, { raw: '{"sub": ' }), 400, 'malformed_body');
    await expectProblem(await post({ email: 'no-sub@x.test' }), 400, 'malformed_body');
    await expectProblem(await post({ sub: 'x', name: 'n'.repeat(201) }), 400, 'malformed_body');
    await expectProblem(await post({ sub: 'x', email: 'not an address' }), 400, 'malformed_body');
    await expectProblem(await post({ sub: { $ne: 1 } }), 400, 'malformed_body');
    await expectProblem(await post({ sub: 'x', return_to: 'https://evil.test/' }), 400, 'return_to_not_allowed');
    await expectProblem(await post({ sub: 'x', lr: 'forged.token' }), 400, 'bad_login_request');
    const huge = await post(null, { raw: JSON.stringify({ sub: 'x', pad: 'p'.repeat(20_000) }) });
    expect(huge.status).toBe(413);
    const text = await fetch(`${r.url}/handoff/crm`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'sub=x' });
    expect(text.status).toBeGreaterThanOrEqual(400);
    expect(text.status).toBeLessThan(500);
  });

  it('refuses a replayed, expired, tampered, foreign or oversized one-time URL with an error page', async () => {
    const enter = async (url: string) => {
      const res = await new Browser({ [BASE]: r.url }).get(url);
      return { status: res.status, location: res.location, body: await res.text() };
    };
    const first = await post({ sub: 'ext-200', return_to: '/welcome' });
    const url = String(first.json.url);
    expect((await enter(url)).status).toBe(303);
    const replay = await enter(url);
    expect(replay).toMatchObject({ status: 400, location: null });
    expect(replay.body).toContain('already used');

    const late = await post({ sub: 'ext-201', return_to: '/welcome' });
    clock.advance(61_000);
    try {
      const expired = await enter(String(late.json.url));
      expect(expired.status).toBe(400);
      expect(expired.body).toContain('expired');
    } finally {
      clock.advance(-61_000);
    }

    const token = String((await post({ sub: 'ext-202' })).json.url).split('token=')[1];
    const foreign = await enter(`${BASE}/handoff/strict/enter?token=${token}`);
    expect(foreign.status).toBe(400);
    expect(foreign.body).toContain('another server');
    const parts = token.split('.');
    parts[3] = (parts[3][0] === 'A' ? 'B' : 'A') + parts[3].slice(1);
    expect((await enter(`${BASE}/handoff/crm/enter?token=${parts.join('.')}`)).status).toBe(400);
    expect((await enter(`${BASE}/handoff/crm/enter?token=garbage`)).status).toBe(400);
    expect((await enter(`${BASE}/handoff/crm/enter`)).status).toBe(400);
    expect((await enter(`${BASE}/handoff/crm/enter?token=${'a'.repeat(13_000)}`)).status).toBe(400);
    expect((await enter(`${BASE}/handoff/nope/enter?token=${token}`)).status).toBe(404);
    const reasons = (await eventsOf(r.broker, 'HandoffRejected')).map((e) => e.reason);
    for (const reason of ['replayed', 'expired', 'wrong_audience', 'malformed', 'malformed_token', 'unknown_server'])
      expect(reasons).toContain(reason);
    // The token itself (a bearer credential until used) never enters the log.
    expect(JSON.stringify(await r.broker.store.readAll({ limit: 100_000 }))).not.toContain(token);
  });

  it('follows the server provisioning policy: explicit refuses a stranger with a page, not a 500', async () => {
    const { createHmac } = await import('node:crypto');
    const raw = JSON.stringify({ sub: 'stranger', return_to: '/welcome' });
    const ts = String(nowS());
    const sig = createHmac('sha256', 'strict-secret-0123456789abcdef0123').update(`${ts}.${raw}`).digest('hex');
    const res = await fetch(`${r.url}/handoff/strict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-handoff-timestamp': ts, 'x-handoff-signature': sig },
      body: raw,
    });
    expect(res.status).toBe(201);
    const { url } = (await res.json()) as { url: string };
    const out = await new Browser({ [BASE]: r.url }).follow(url, [BASE, r.url]);
    expect(out.status).toBe(403);
    expect(out.body).toContain('No account');
  });
});
