import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as client from 'openid-client';
import * as jose from 'jose';
import { CLIENTS, REDIRECT, SECRET, authorize, startOAuth, type Harness } from '../../plugins/oauth-server/harness.js';

/**
 * A third-party relying party (panva's openid-client v6, on oauth4webapi) against the real broker
 * over HTTP: discovery, code flow with PKCE (login form and consent driven with a cookie jar),
 * ID token validation, refresh, userinfo, introspection, revocation, client credentials, and a
 * ban taking effect on the next introspection and refresh.
 */
describe('interop: openid-client v6 as the relying party', () => {
  let h: Harness;
  let pkjKeys: CryptoKeyPair;
  let lastBrowser: ReturnType<Harness['browser']>;
  beforeAll(async () => {
    pkjKeys = (await jose.generateKeyPair('ES256', { extractable: true })) as CryptoKeyPair;
    const pub = { ...(await jose.exportJWK(pkjKeys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    h = await startOAuth([
      ...CLIENTS,
      {
        clientId: 'pkj',
        name: 'Key client',
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: { keys: [pub] },
        redirectUris: ['https://pkj.example/cb'],
        grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
        scopes: ['openid', 'api'],
      },
    ]);
    await h.user('ann@example.com', { roles: ['editor'], tenant: 'acme' });
    await h.user('zed@example.com', { roles: ['viewer'], tenant: 'acme' });
  });
  afterAll(async () => h.stop());

  const discover = (id: string, auth: client.ClientAuth) =>
    client.discovery(new URL(h.url), id, undefined, auth, { execute: [client.allowInsecureRequests] });

  async function login(
    config: client.Configuration,
    email: string,
    redirectUri = REDIRECT,
    scope = 'openid profile email api offline_access',
  ) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    expect(url.origin).toBe(h.url);
    const browser = h.browser();
    const back = await authorize(browser, url.pathname + url.search, { email });
    lastBrowser = browser;
    return client.authorizationCodeGrant(config, back, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
  }

  it('discovers, runs the code flow with PKCE, refreshes, reads userinfo, introspects and revokes', async () => {
    const config = await discover('web', client.ClientSecretBasic(SECRET));
    expect(config.serverMetadata().issuer).toBe(h.url);
    const tokens = await login(config, 'ann@example.com');
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: h.url, aud: 'web', email: 'ann@example.com' });
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.scope).toBe('openid profile email api offline_access');

    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(info).toMatchObject({ sub: claims.sub, email: 'ann@example.com', roles: ['editor'], tenant: 'acme' });

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()?.sub).toBe(claims.sub);

    const active = await client.tokenIntrospection(config, refreshed.access_token);
    expect(active).toMatchObject({ active: true, sub: claims.sub, client_id: 'web', roles: ['editor'], tenant: 'acme' });
    await client.tokenRevocation(config, refreshed.access_token);
    expect((await client.tokenIntrospection(config, refreshed.access_token)).active).toBe(false);
    // The refresh token survives an access-token revocation.
    const latest = await client.refreshTokenGrant(config, refreshed.refresh_token!);

    const cc = await client.clientCredentialsGrant(config, { scope: 'api' });
    expect((await client.tokenIntrospection(config, cc.access_token)).sub).toBe('web');

    // RP-initiated logout with the URL openid-client builds from end_session_endpoint.
    const out = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: 'https://app.example/bye',
      state: 'bye',
    });
    expect((await client.tokenIntrospection(config, latest.access_token)).active).toBe(true);
    const r = await lastBrowser.request(out.pathname + out.search);
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('https://app.example/bye?state=bye');
    // The access token was bound to the broker session that just ended.
    expect((await client.tokenIntrospection(config, latest.access_token)).active).toBe(false);
  });

  it('a ban makes the next introspection inactive and the next refresh fail', async () => {
    const config = await discover('web', client.ClientSecretBasic(SECRET));
    const tokens = await login(config, 'zed@example.com');
    const sub = tokens.claims()!.sub;
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
    const r = await h.broker.users.execute(sub, { type: 'ban', reason: 'fraud', actor: 'admin:t' }, { actor: 'admin:t' });
    await h.broker.projections.waitFor(r.position);
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.fetchUserInfo(config, tokens.access_token, sub)).rejects.toThrow();
  });

  it('works for client_secret_post, public clients with PKCE, and private_key_jwt', async () => {
    const post = await discover('post', client.ClientSecretPost('post-client-secret-0123456789'));
    expect((await login(post, 'ann@example.com', 'https://post.example/cb', 'openid')).claims()?.aud).toBe('post');

    const spa = await discover('spa', client.None());
    const t = await login(spa, 'ann@example.com', 'https://spa.example/cb', 'openid profile');
    expect(t.claims()?.aud).toBe('spa');
    await client.tokenRevocation(spa, t.refresh_token!);
    await expect(client.refreshTokenGrant(spa, t.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    const pkj = await discover('pkj', client.PrivateKeyJwt({ key: pkjKeys.privateKey, kid: 'k1' }));
    const k = await login(pkj, 'ann@example.com', 'https://pkj.example/cb', 'openid api');
    expect(k.claims()?.aud).toBe('pkj');
    expect((await client.clientCredentialsGrant(pkj, { scope: 'api' })).access_token).toBeTruthy();
    const wrongKey = (await jose.generateKeyPair('ES256', { extractable: true })) as CryptoKeyPair;
    const bad = await discover('pkj', client.PrivateKeyJwt({ key: wrongKey.privateKey, kid: 'k1' }));
    await expect(client.clientCredentialsGrant(bad, { scope: 'api' })).rejects.toMatchObject({ error: 'invalid_client' });
  });
});
