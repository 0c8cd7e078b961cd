import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as client from 'openid-client';
import { CLIENTS, PW, REDIRECT, SECRET, basic, postForm, startOAuth, type Harness } from '../../plugins/oauth-server/harness.js';
import { field, type Client } from '../../helpers/cookie-jar.js';

/**
 * openid-client v6 as the relying party for each `prompt` value and `max_age` (OIDC Core
 * §3.1.2.1), and the userinfo endpoint's error answers (RFC 6750 §3) read header by header.
 */
describe('interop: openid-client with prompt, max_age and userinfo errors', () => {
  let h: Harness;
  let config: client.Configuration;
  beforeAll(async () => {
    h = await startOAuth(CLIENTS);
    await h.user('ann@example.com');
    config = await client.discovery(new URL(h.url), 'web', undefined, client.ClientSecretBasic(SECRET), {
      execute: [client.allowInsecureRequests],
    });
  });
  afterAll(async () => h.stop());

  /** Runs /authorize in a browser, saying which pages it showed; logs in and allows when asked. */
  async function run(browser: Client, extra: Record<string, string>, scope = 'openid email') {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...extra,
    });
    const shown = { login: false, consent: false };
    let r = await browser.get(url.pathname + url.search);
    if (r.url.includes('/password/login')) {
      shown.login = true;
      r = await browser.postForm('/password/login', {
        _csrf: field(r.body, '_csrf'),
        lr: field(r.body, 'lr'),
        email: 'ann@example.com',
        password: PW,
      });
    }
    if (r.res.status === 200 && r.body.includes('action="/oauth/consent"')) {
      shown.consent = true;
      r = await browser.postForm('/oauth/consent', { ticket: field(r.body, 'ticket'), csrf: field(r.body, 'csrf'), decision: 'allow' });
    }
    expect(r.res.status, r.body.slice(0, 300)).toBe(303);
    const back = new URL(r.res.headers.get('location')!);
    const maxAge = extra.max_age === undefined ? undefined : Number(extra.max_age);
    const oidc = scope.split(' ').includes('openid');
    const tokens = () =>
      client.authorizationCodeGrant(config, back, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: oidc ? nonce : undefined,
        idTokenExpected: oidc,
        maxAge,
      });
    return { shown, back, tokens };
  }

  it('prompt=consent shows the consent page although consent is remembered; none of it without', async () => {
    const b = h.browser();
    const first = await run(b, {});
    expect(first.shown).toEqual({ login: true, consent: true });
    await first.tokens();
    const remembered = await run(b, {});
    expect(remembered.shown).toEqual({ login: false, consent: false });
    const asked = await run(b, { prompt: 'consent' });
    expect(asked.shown).toEqual({ login: false, consent: true });
    expect((await asked.tokens()).claims()?.email).toBe('ann@example.com');
  });

  it('prompt=login forces a fresh login over a live session, and auth_time moves', async () => {
    const b = h.browser();
    h.clock.advance(-60_000); // the first login a minute ago
    const first = await run(b, {});
    h.clock.advance(60_000);
    const before = (await first.tokens()).claims()!.auth_time!;
    const again = await run(b, { prompt: 'login' });
    expect(again.shown).toEqual({ login: true, consent: false });
    const after = (await again.tokens()).claims()!.auth_time!;
    expect(after - before).toBeGreaterThanOrEqual(59);
  });

  it('prompt=none: a code with no page when there is a session, login_required without one, invalid_request when combined', async () => {
    const b = h.browser();
    await (await run(b, {})).tokens();
    const silent = await run(b, { prompt: 'none' });
    expect(silent.shown).toEqual({ login: false, consent: false });
    expect((await silent.tokens()).claims()?.sub).toBeTruthy();
    const anon = await run(h.browser(), { prompt: 'none' });
    await expect(anon.tokens()).rejects.toMatchObject({ error: 'login_required' });
    for (const prompt of ['none login', 'consent none']) {
      const mixed = await run(b, { prompt });
      expect(mixed.shown).toEqual({ login: false, consent: false });
      await expect(mixed.tokens()).rejects.toMatchObject({ error: 'invalid_request' });
    }
  });

  it('max_age: an older login logs in again (prompt=none: login_required), a recent one does not; auth_time is checked by the client', async () => {
    const b = h.browser();
    h.clock.advance(-120_000); // a session that started two minutes ago
    await run(b, {});
    h.clock.advance(120_000);
    const recent = await run(b, { max_age: '600' });
    expect(recent.shown).toEqual({ login: false, consent: false });
    const oldAuth = (await recent.tokens()).claims()!.auth_time!;
    expect(Math.floor(Date.now() / 1000) - oldAuth).toBeGreaterThanOrEqual(119);

    const silent = await run(b, { max_age: '60', prompt: 'none' });
    await expect(silent.tokens()).rejects.toMatchObject({ error: 'login_required' });
    const stale = await run(b, { max_age: '60' });
    expect(stale.shown).toEqual({ login: true, consent: false });
    expect((await stale.tokens()).claims()!.auth_time!).toBeGreaterThan(oldAuth);
    // max_age=0 is prompt=login (§3.1.2.1).
    expect((await run(b, { max_age: '0' })).shown.login).toBe(true);
    const bad = await run(b, { max_age: 'soon' });
    await expect(bad.tokens()).rejects.toMatchObject({ error: 'invalid_request' });
  });

  describe('userinfo errors (RFC 6750 §3)', () => {
    const userinfo = (headers: Record<string, string> = {}, query = '') => fetch(`${h.url}/oauth/userinfo${query}`, { headers });

    it('no token at all: 401 with the bare challenge, no error code', async () => {
      for (const headers of [{}, { authorization: 'Basic d2ViOng=' }] as Record<string, string>[]) {
        const r = await userinfo(headers);
        expect(r.status).toBe(401);
        expect(r.headers.get('www-authenticate')).toBe('Bearer realm="broker"');
        expect(r.headers.get('cache-control')).toBe('no-store');
        expect(await r.text()).toBe('');
      }
    });

    it('an invalid token: 401 invalid_token', async () => {
      const r = await userinfo({ authorization: 'Bearer not.a.token' });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe(
        'Bearer realm="broker", error="invalid_token", error_description="the access token is not active"',
      );
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect(await r.json()).toEqual({ error: 'invalid_token', error_description: 'the access token is not active' });
    });

    it('a malformed header or a token in the query: 400 invalid_request', async () => {
      for (const [headers, query] of [
        [{ authorization: 'Bearer' }, ''],
        [{ authorization: 'Bearer a b' }, ''],
        [{}, '?access_token=abc'],
      ] as const) {
        const r = await userinfo(headers, query);
        expect(r.status).toBe(400);
        expect(r.headers.get('www-authenticate')).toMatch(/^Bearer realm="broker", error="invalid_request", error_description="[^"]+"$/);
        expect((await r.json()).error).toBe('invalid_request');
      }
    });

    it('a good token without openid: 403 insufficient_scope naming the scope, as openid-client reads it', async () => {
      // A user's token for the API only, and a client's own token (no user at all).
      const userToken = (await (await run(h.browser(), {}, 'api')).tokens()).access_token;
      const cc = await postForm(h.url, '/oauth/token', { grant_type: 'client_credentials', scope: 'api' }, basic('web', SECRET));
      expect(cc.status).toBe(200);
      for (const token of [userToken, cc.body.access_token as string]) {
        const r = await userinfo({ authorization: `Bearer ${token}` });
        expect(r.status).toBe(403);
        expect(r.headers.get('www-authenticate')).toBe(
          'Bearer realm="broker", error="insufficient_scope", error_description="the token does not grant openid for a user", scope="openid"',
        );
        expect(r.headers.get('cache-control')).toBe('no-store');
        expect((await r.json()).error).toBe('insufficient_scope');
        const err = await client.fetchUserInfo(config, token, client.skipSubjectCheck).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(client.WWWAuthenticateChallengeError);
        const e = err as client.WWWAuthenticateChallengeError;
        expect(e.status).toBe(403);
        expect(e.cause[0]).toMatchObject({
          scheme: 'bearer',
          parameters: { error: 'insufficient_scope', scope: 'openid', realm: 'broker' },
        });
      }
    });
  });
});
