import { createHash } from 'node:crypto';
import http from 'node:http';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as client from 'openid-client';
import { CLIENTS, REDIRECT, SECRET, authorize, startOAuth, type Harness } from '../../plugins/oauth-server/harness.js';
import { field, type Client } from '../../helpers/cookie-jar.js';
import { waitUntil } from '../../helpers/broker.js';
import { OAuthGrantsView } from '../../../plugins/oauth-server/grants-view.js';
import { opened } from '../../helpers/read-db.js';

const API_TOKEN = 'admin-api-token-0123456789abcdef';

/**
 * Issue 16 item 2, with panva's openid-client as the relying party over real sockets: log out
 * everywhere, a ban (even followed by an unban) and a login over a session end the grants and
 * sessions they name for good, and back-channel logout tells the client.
 */
describe('interop: revocation fails closed', () => {
  let h: Harness;
  let bcl: http.Server;
  /** Logout tokens received, decoded (payloads only: the broker's signature is covered elsewhere). */
  const logoutTokens: Record<string, unknown>[] = [];
  let config: client.Configuration;

  beforeAll(async () => {
    bcl = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const jwt = new URLSearchParams(body).get('logout_token') ?? '';
        logoutTokens.push(JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => bcl.listen(0, '127.0.0.1', () => r()));
    const port = (bcl.address() as { port: number }).port;
    h = await startOAuth(
      CLIENTS.map((c) => (c.clientId === 'web' ? { ...c, backchannelLogoutUri: `http://127.0.0.1:${port}/bcl` } : c)),
      {},
      [{ name: 'admin', config: { setup: { printToStdout: false } } }],
      { admin: { apiTokens: [{ name: 'ops', tokenHash: createHash('sha256').update(API_TOKEN).digest('hex') }] } },
    );
    for (const e of ['amy', 'ben', 'cat', 'dan']) await h.user(`${e}@example.com`);
    config = await client.discovery(new URL(h.url), 'web', undefined, client.ClientSecretBasic(SECRET), {
      execute: [client.allowInsecureRequests],
    });
  });
  afterAll(async () => {
    await h.stop();
    bcl.close();
  });

  /** A code flow in `browser` (a fresh one by default); the scope asks for offline access. */
  async function login(email: string, browser: Client = h.browser(), prompt?: string) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid email api offline_access',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...(prompt ? { prompt } : {}),
    });
    const back = await authorize(browser, url.pathname + url.search, { email });
    const tokens = await client.authorizationCodeGrant(config, back, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      idTokenExpected: true,
    });
    return { browser, tokens, sid: tokens.claims()!.sid as string, sub: tokens.claims()!.sub };
  }

  const active = async (token: string) => (await client.tokenIntrospection(config, token)).active;
  const admin = (path: string) =>
    fetch(`${h.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'test' }),
    });
  const events = async () => h.broker.store.readAll({ limit: 100000 });

  it('after "log out everywhere" no refresh token mints again, offline or not, and both devices are told', async () => {
    const phone = await login('amy@example.com');
    const laptop = await login('amy@example.com');
    // The phone's session ends on its own: its offline grant outlives it (OIDC Core §11)...
    await h.broker.login.endSession(phone.sid, 'logout', 'test');
    const rotated = await client.refreshTokenGrant(config, phone.tokens.refresh_token!);
    expect(rotated.refresh_token).toBeTruthy();

    // ...until the user logs out everywhere from the laptop.
    const home = await laptop.browser.get('/');
    const out = await laptop.browser.postForm('/logout/everywhere', { _csrf: field(home.body, '_csrf') });
    expect(out.res.status).toBe(200);
    for (const rt of [rotated.refresh_token!, laptop.tokens.refresh_token!]) {
      await expect(client.refreshTokenGrant(config, rt)).rejects.toMatchObject({ error: 'invalid_grant' });
      expect(await active(rt)).toBe(false);
    }
    expect(await active(laptop.tokens.access_token)).toBe(false);
    expect((await events()).filter((e) => e.type === 'CredentialsRevoked').map((e) => e.data)).toEqual([
      { userId: phone.sub, reason: 'logout_everywhere' },
    ]);
    // Back-channel logout for both sessions' grants, the one that had ended included.
    await waitUntil(
      () => [phone.sid, laptop.sid].every((sid) => logoutTokens.filter((t) => t.sid === sid).length >= 1),
      5000,
      'logout tokens',
    );
    // A new login afterwards is a new grant and works.
    const again = await login('amy@example.com');
    expect((await client.refreshTokenGrant(config, again.tokens.refresh_token!)).access_token).toBeTruthy();
    // A replay of the log (a restart, a new node) reaches the same verdicts.
    const replayed = opened(new OAuthGrantsView());
    for (const e of await events()) replayed.apply(e);
    const gid = (at: string) => h.keys.verifySync(at).gid as string;
    expect([phone, laptop, again].map((s) => replayed.grant(gid(s.tokens.access_token))?.revoked)).toEqual([true, true, false]);
  });

  it('a ban then an unban restores the account, not its old tokens; the client hears once per session', async () => {
    const before = await login('ben@example.com');
    const other = await login('dan@example.com');
    expect((await admin(`/admin/users/${before.sub}/ban`)).status).toBe(200);
    await expect(client.refreshTokenGrant(config, before.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await admin(`/admin/users/${before.sub}/unban`)).status).toBe(200);

    await expect(client.refreshTokenGrant(config, before.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await active(before.tokens.access_token)).toBe(false);
    expect(await active(before.tokens.refresh_token!)).toBe(false);
    // The old cookie stays dead too; a fresh login works.
    expect((await before.browser.request('/')).status).toBe(303);
    const after = await login('ben@example.com');
    expect((await client.refreshTokenGrant(config, after.tokens.refresh_token!)).access_token).toBeTruthy();

    // SessionEnded, CredentialsRevoked and UserBanned share a correlation id: one logout token for
    // the session. Ending another session afterwards and waiting for its claim orders the reactor.
    await h.broker.login.endSession(other.sid, 'logout', 'test');
    await waitUntil(
      async () =>
        (await events()).some((e) => e.type === 'BackChannelLogoutClaimed' && (e.data as { sessionId: string }).sessionId === other.sid),
      5000,
      'later claim',
    );
    const claims = (await events()).filter(
      (e) => e.type === 'BackChannelLogoutClaimed' && (e.data as { sessionId: string }).sessionId === before.sid,
    );
    expect(claims).toHaveLength(1);
  });

  it('a direct ban through the core (no admin route) voids the grants as well', async () => {
    const s = await login('cat@example.com');
    const r = await h.broker.users.execute(s.sub, { type: 'ban', reason: 'fraud', actor: 'test' }, { actor: 'test' });
    await h.broker.users.execute(s.sub, { type: 'unban', reason: null, actor: 'test' }, { actor: 'test' });
    await h.broker.projections.waitFor(r.position + 1);
    await expect(client.refreshTokenGrant(config, s.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await active(s.tokens.access_token)).toBe(false);
  });

  it('a login over an existing session ends the old one: recorded, its cookie dead, its tokens inactive', async () => {
    const first = await login('dan@example.com');
    const oldCookie = first.browser.jar.cookies.get('broker_session')!;
    const second = await login('dan@example.com', first.browser, 'login');
    expect(second.sid).not.toBe(first.sid);
    const ended = (await events()).filter((e) => e.type === 'SessionEnded' && (e.data as { sessionId: string }).sessionId === first.sid);
    expect(ended.map((e) => (e.data as { reason: string }).reason)).toEqual(['replaced_by_login']);
    const replay = await fetch(`${h.url}/`, { headers: { cookie: `broker_session=${oldCookie}` }, redirect: 'manual' });
    expect(replay.status).toBe(303);
    expect(replay.headers.get('location')).toMatch(/^\/login\?/);
    expect(await active(first.tokens.access_token)).toBe(false);
    expect(await active(second.tokens.access_token)).toBe(true);
  });
});
