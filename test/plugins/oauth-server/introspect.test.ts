import http from 'node:http';
import { createHmac } from 'node:crypto';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as jose from 'jose';
import { SECRET, basic, codeFlow, postForm, startOAuth, type Harness } from './harness.js';
import { waitUntil } from '../../helpers/broker.js';
import { CLIENTS } from './harness.js';

const SVC = basic('svc', 'service-secret-0123456789');
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('oauth-server: introspection, check-token, revocation, userinfo, logout', () => {
  let h: Harness;
  let bcl: http.Server;
  const logoutTokens: string[] = [];
  beforeAll(async () => {
    bcl = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        logoutTokens.push(new URLSearchParams(body).get('logout_token') ?? '');
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => bcl.listen(0, '127.0.0.1', () => r()));
    const port = (bcl.address() as { port: number }).port;
    h = await startOAuth(CLIENTS.map((c) => (c.clientId === 'web' ? { ...c, backchannelLogoutUri: `http://127.0.0.1:${port}/bcl` } : c)));
    for (const e of ['ann', 'bob', 'cat', 'dan', 'eve']) await h.user(`${e}@example.com`, { roles: ['reader'], tenant: 't-1' });
  });
  afterAll(async () => {
    await h.stop();
    bcl.close();
  });

  const introspect = (token: string, path = '/oauth/introspect') => postForm(h.url, path, { token }, SVC);

  it('answers active with user id, roles, tenant, scope and client, at both endpoints; public callers are refused', async () => {
    const t = await codeFlow(h, h.browser());
    for (const path of ['/oauth/introspect', '/oauth/check-token']) {
      const r = await introspect(t.access_token as string, path);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        active: true,
        user_id: expect.any(String),
        roles: ['reader'],
        tenant: 't-1',
        scope: 'openid profile email api',
        client_id: 'web',
        token_type: 'Bearer',
      });
    }
    expect((await postForm(h.url, '/oauth/introspect', { token: t.access_token as string, client_id: 'spa' })).status).toBe(401);
    expect((await postForm(h.url, '/oauth/introspect', { token: t.access_token as string })).body.error).toBe('invalid_client');
    expect((await postForm(h.url, '/oauth/introspect', {}, SVC)).body.error).toBe('invalid_request');
    const rt = await postForm(h.url, '/oauth/introspect', { token: t.refresh_token as string, token_type_hint: 'refresh_token' }, SVC);
    expect(rt.body).toMatchObject({ active: true, token_type: 'refresh_token', client_id: 'web' });
  });

  it('makes tokens inactive at once on ban, and the next refresh fails', async () => {
    const t = await codeFlow(h, h.browser(), { email: 'bob@example.com' });
    const sub = h.keys.verifySync(t.access_token as string).sub as string;
    const r = await h.broker.users.execute(sub, { type: 'ban', reason: 'abuse', actor: 'admin:x' }, { actor: 'admin:x' });
    await h.broker.projections.waitFor(r.position);
    expect((await introspect(t.access_token as string)).body).toEqual({ active: false });
    expect(
      (
        await postForm(
          h.url,
          '/oauth/token',
          { grant_type: 'refresh_token', refresh_token: t.refresh_token as string },
          basic('web', SECRET),
        )
      ).body.error,
    ).toBe('invalid_grant');
    // The ban also notified the client over the back channel.
    await waitUntil(() => logoutTokens.some((x) => jose.decodeJwt(x).sub === sub), 5000, 'back-channel logout on ban');
  });

  it('makes tokens inactive when the user is disabled or the session ends', async () => {
    const t1 = await codeFlow(h, h.browser(), { email: 'cat@example.com' });
    const p1 = h.keys.verifySync(t1.access_token as string);
    const r = await h.broker.users.execute(p1.sub as string, { type: 'disable', reason: null }, { actor: 'admin:x' });
    await h.broker.projections.waitFor(r.position);
    expect((await introspect(t1.access_token as string)).body).toEqual({ active: false });

    const t2 = await codeFlow(h, h.browser(), { email: 'dan@example.com' });
    const p2 = h.keys.verifySync(t2.access_token as string);
    await h.broker.login.endSession(p2.sid as string, 'logout', 'test');
    expect((await introspect(t2.access_token as string)).body).toEqual({ active: false });
    expect(
      (
        await postForm(
          h.url,
          '/oauth/token',
          { grant_type: 'refresh_token', refresh_token: t2.refresh_token as string },
          basic('web', SECRET),
        )
      ).body.error,
    ).toBe('invalid_grant');
  });

  it('revokes an access token or a whole grant (RFC 7009); foreign tokens are answered 200 and untouched', async () => {
    const c = h.browser();
    const t = await codeFlow(h, c);
    const other = await postForm(h.url, '/oauth/revoke', { token: t.access_token as string }, SVC);
    expect(other.status).toBe(200);
    expect((await introspect(t.access_token as string)).body.active).toBe(true);
    expect((await postForm(h.url, '/oauth/revoke', { token: 'garbage' }, basic('web', SECRET))).status).toBe(200);
    expect((await postForm(h.url, '/oauth/revoke', { token: t.access_token as string }, basic('web', SECRET))).status).toBe(200);
    expect((await introspect(t.access_token as string)).body).toEqual({ active: false });
    expect(
      (
        await postForm(
          h.url,
          '/oauth/token',
          { grant_type: 'refresh_token', refresh_token: t.refresh_token as string },
          basic('web', SECRET),
        )
      ).status,
    ).toBe(200);

    const t2 = await codeFlow(h, c);
    expect(
      (
        await postForm(
          h.url,
          '/oauth/revoke',
          { token: t2.refresh_token as string, token_type_hint: 'refresh_token' },
          basic('web', SECRET),
        )
      ).status,
    ).toBe(200);
    expect((await introspect(t2.access_token as string)).body).toEqual({ active: false });
    expect(
      (
        await postForm(
          h.url,
          '/oauth/token',
          { grant_type: 'refresh_token', refresh_token: t2.refresh_token as string },
          basic('web', SECRET),
        )
      ).body.error,
    ).toBe('invalid_grant');
    expect((await postForm(h.url, '/oauth/revoke', { token: 'x' }, basic('web', 'bad-secret-0000000000'))).status).toBe(401);
  });

  it('refuses forged, expired, not-yet-valid and wrong-audience tokens', async () => {
    const t = await codeFlow(h, h.browser());
    const at = t.access_token as string;
    const [hd, pl] = at.split('.');
    const claims = JSON.parse(Buffer.from(pl, 'base64url').toString()) as Record<string, unknown>;
    const kid = (JSON.parse(Buffer.from(hd, 'base64url').toString()) as { kid: string }).kid;
    const jwk = JSON.stringify((await h.keys.jwks()).keys[0]);
    const hsInput = `${b64({ alg: 'HS256', typ: 'at+jwt', kid })}.${pl}`;
    const other = await jose.generateKeyPair('ES256');
    const sign = (p: Record<string, unknown>) =>
      new jose.SignJWT(p).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(other.privateKey);
    const forged = [
      `${b64({ alg: 'none', typ: 'at+jwt' })}.${pl}.`,
      `${hsInput}.${createHmac('sha256', jwk).update(hsInput).digest('base64url')}`,
      await sign(claims),
      `${hd}.${b64({ ...claims, scope: 'admin' })}.${at.split('.')[2]}`,
      h.keys.signSync({ ...claims, aud: 'https://other.example' }, { typ: 'at+jwt' }),
      h.keys.signSync({ ...claims, exp: Math.floor(h.clock.now().getTime() / 1000) - 1 }, { typ: 'at+jwt' }),
      h.keys.signSync({ ...claims, nbf: Math.floor(h.clock.now().getTime() / 1000) + 600 }, { typ: 'at+jwt' }),
      h.keys.signSync(claims, { typ: 'JWT' }), // an ID-token-typed JWT is not an access token
      t.id_token as string,
      'x'.repeat(3000),
    ];
    for (const f of forged) expect((await introspect(f)).body, f.slice(0, 60)).toEqual({ active: false });
    expect((await introspect(at)).body.active).toBe(true);
    h.clock.advance(3601_000);
    expect((await introspect(at)).body).toEqual({ active: false });
    h.clock.advance(-3601_000);
  });

  it('serves userinfo for an openid token and refuses others with a Bearer challenge', async () => {
    const t = await codeFlow(h, h.browser(), { email: 'eve@example.com' });
    const ok = await fetch(`${h.url}/oauth/userinfo`, { headers: { authorization: `Bearer ${t.access_token as string}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ email: 'eve@example.com', roles: ['reader'], tenant: 't-1' });
    const bad = await fetch(`${h.url}/oauth/userinfo`, { headers: { authorization: 'Bearer nope' } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/Bearer .*error="invalid_token"/);
    const cc = await postForm(h.url, '/oauth/token', { grant_type: 'client_credentials', scope: 'api' }, SVC);
    expect(
      (await fetch(`${h.url}/oauth/userinfo`, { headers: { authorization: `Bearer ${cc.body.access_token as string}` } })).status,
    ).toBe(403);
  });

  it('RP-initiated logout with id_token_hint ends the session, redirects to the registered URI and notifies the back channel', async () => {
    const c = h.browser();
    const t = await codeFlow(h, c);
    const sid = h.keys.verifySync(t.access_token as string).sid as string;
    const bad = await c.request(
      `/oauth/logout?${new URLSearchParams({ id_token_hint: t.id_token as string, post_logout_redirect_uri: 'https://evil.example/' })}`,
    );
    expect(bad.status).toBe(400);
    const r = await c.request(
      `/oauth/logout?${new URLSearchParams({ id_token_hint: t.id_token as string, post_logout_redirect_uri: 'https://app.example/bye', state: 'z' })}`,
    );
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('https://app.example/bye?state=z');
    expect((await introspect(t.access_token as string)).body).toEqual({ active: false });
    await waitUntil(() => logoutTokens.some((x) => jose.decodeJwt(x).sid === sid), 5000, 'back-channel logout token');
    const token = logoutTokens.find((x) => jose.decodeJwt(x).sid === sid)!;
    const verified = await jose.jwtVerify(token, jose.createLocalJWKSet(await h.keys.jwks()), {
      issuer: h.url,
      audience: 'web',
      typ: 'logout+jwt',
      currentDate: h.clock.now(),
    });
    expect(verified.payload.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });
    expect(verified.payload.nonce).toBeUndefined();
    await waitUntil(
      async () => (await h.broker.store.readAll({ limit: 100000 })).some((e) => e.type === 'BackChannelLogoutDelivered'),
      5000,
      'delivery recorded',
    );
  });

  it('asks for confirmation when logout comes without a hint', async () => {
    const c = h.browser();
    const t = await codeFlow(h, c);
    const page = await c.get('/oauth/logout');
    expect(page.res.status).toBe(200);
    expect(page.body).toContain('name="confirm"');
    expect((await introspect(t.access_token as string)).body.active).toBe(true);
    const forged = await c.postForm('/oauth/logout', { confirm: 'nope' });
    expect(forged.body).toContain('name="confirm"');
    const done = await c.postForm('/oauth/logout', { confirm: /name="confirm" value="([^"]+)"/.exec(page.body)![1] });
    expect(done.body).toContain('Logged out');
    expect((await introspect(t.access_token as string)).body).toEqual({ active: false });
  });
});
