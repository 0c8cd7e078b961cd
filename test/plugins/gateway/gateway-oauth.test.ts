import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { request } from 'undici';
import { CLIENTS, SECRET, basic, codeFlow, postForm, startOAuth, type Harness } from '../oauth-server/harness.js';
import { startEchoUpstream } from './upstream.js';

/**
 * The gateway and the OAuth server in one broker: an access token the broker issued to a client
 * for the gateway's app opens that app, and stops opening it the moment it is revoked at
 * /oauth/revoke (the gateway asks the OAuth server's `AccessTokenRevoked` check on every request).
 */
describe('gateway with the oauth-server: issued tokens and revocation', () => {
  let h: Harness;
  let app: Awaited<ReturnType<typeof startEchoUpstream>>;
  const call = async (token: string) => {
    const res = await request(`${h.url}/cases/list`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.statusCode, body: await res.body.text() };
  };

  beforeAll(async () => {
    app = await startEchoUpstream('cases');
    h = await startOAuth(
      CLIENTS.map((c) => (c.clientId === 'web' ? { ...c, audience: 'cases' } : c)),
      {},
      [{ name: 'gateway', config: { routes: [{ id: 'cases', pathPrefix: '/cases', upstream: app.url }] } }],
    );
    await h.user('ann@example.com');
  });
  afterAll(async () => {
    await h?.stop();
    await app?.close();
  });

  it('lets an issued access token through, then refuses it once it or its grant is revoked', async () => {
    const t = await codeFlow(h, h.browser());
    const ok = await call(t.access_token as string);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).headers['x-user-email']).toBe('ann@example.com');

    const r = await postForm(h.url, '/oauth/revoke', { token: t.access_token as string }, basic('web', SECRET));
    expect(r.status).toBe(200);
    const refused = await call(t.access_token as string);
    expect(refused.status).toBe(401);
    expect(refused.body).toContain('revoked');

    // Revoking the refresh token ends the grant: its access tokens stop working at the gateway too.
    const t2 = await codeFlow(h, h.browser());
    expect((await call(t2.access_token as string)).status).toBe(200);
    await postForm(h.url, '/oauth/revoke', { token: t2.refresh_token as string }, basic('web', SECRET));
    expect((await call(t2.access_token as string)).status).toBe(401);
  });
});

describe('gateway with an OAuth issuer other than the base URL', () => {
  let h: Harness;
  let app: Awaited<ReturnType<typeof startEchoUpstream>>;
  beforeAll(async () => {
    app = await startEchoUpstream('cases');
    // A broker behind a proxy: its OAuth issuer is the public name, not the base URL it listens on.
    h = await startOAuth(CLIENTS, { issuer: 'https://login.example' }, [
      { name: 'gateway', config: { routes: [{ id: 'cases', pathPrefix: '/cases', upstream: app.url }] } },
    ]);
  });
  afterAll(async () => {
    await h?.stop();
    await app?.close();
  });

  it("accepts the OAuth server's tokens (its issuer) and refuses the same token under the base URL as issuer", async () => {
    const userId = await h.user('iss@example.com');
    const iat = Math.floor(Date.now() / 1000);
    const claims = { sub: userId, aud: 'cases', client_id: 'web', scope: 'openid', iat, exp: iat + 300, jti: crypto.randomUUID() };
    const status = async (iss: string) =>
      (
        await request(`${h.url}/cases/x`, {
          headers: { authorization: `Bearer ${h.keys.signSync({ ...claims, iss }, { typ: 'at+jwt' })}` },
        })
      ).statusCode;
    expect(await status('https://login.example')).toBe(200);
    expect(await status(h.url)).toBe(401);
  });
});
