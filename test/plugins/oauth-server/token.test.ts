import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import {
  CLIENTS,
  REDIRECT,
  SECRET,
  authorize,
  authorizeUrl,
  basic,
  codeFlow,
  pkce,
  postForm,
  startOAuth,
  type Harness,
} from './harness.js';

describe('oauth-server: token endpoint', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startOAuth();
    await h.user('ann@example.com', { roles: ['admin', 'reader'], tenant: 'acme' });
  });
  afterAll(async () => h.stop());

  const introspect = (token: string) => postForm(h.url, '/oauth/introspect', { token }, basic('svc', 'service-secret-0123456789'));

  it('runs the code flow with PKCE: RFC 9068 access token, ID token, rotating refresh token', async () => {
    const c = h.browser();
    const t = await codeFlow(h, c);
    expect(t).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'openid profile email api' });
    expect(typeof t.refresh_token).toBe('string');
    const at = h.keys.verifySync(t.access_token as string, { typ: 'at+jwt' });
    expect(at).toMatchObject({
      iss: h.url,
      aud: `${h.url}/api`,
      client_id: 'web',
      scope: 'openid profile email api',
      roles: ['admin', 'reader'],
      tenant: 'acme',
    });
    for (const k of ['sub', 'iat', 'exp', 'jti', 'sid']) expect(at[k]).toBeDefined();
    const id = h.keys.verifySync(t.id_token as string, { typ: 'JWT', audience: 'web', issuer: h.url });
    expect(id).toMatchObject({ sub: at.sub, nonce: 'n1', sid: at.sid, email: 'ann@example.com' });
    expect(id.at_hash).toBeDefined();

    const r1 = await postForm(
      h.url,
      '/oauth/token',
      { grant_type: 'refresh_token', refresh_token: t.refresh_token as string },
      basic('web', SECRET),
    );
    expect(r1.status).toBe(200);
    expect(r1.body.refresh_token).not.toBe(t.refresh_token);
    expect(r1.headers.get('cache-control')).toBe('no-store');
    // Reusing the rotated token revokes the whole grant: the newest tokens die too.
    const reuse = await postForm(
      h.url,
      '/oauth/token',
      { grant_type: 'refresh_token', refresh_token: t.refresh_token as string },
      basic('web', SECRET),
    );
    expect(reuse).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const after = await postForm(
      h.url,
      '/oauth/token',
      { grant_type: 'refresh_token', refresh_token: r1.body.refresh_token as string },
      basic('web', SECRET),
    );
    expect(after).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await introspect(r1.body.access_token as string)).body).toEqual({ active: false });
    // Refresh tokens are in the log only as hashes.
    const log = JSON.stringify(await h.broker.store.readAll({ limit: 100000 }));
    expect(log).not.toContain((t.refresh_token as string).split('.')[1]);
    expect(log).not.toContain(SECRET);
  });

  it('refuses a reused code and revokes what its first redemption issued', async () => {
    const c = h.browser();
    const { verifier, challenge } = pkce();
    const loc = await authorize(
      c,
      authorizeUrl({
        client_id: 'web',
        redirect_uri: REDIRECT,
        scope: 'openid api',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
    );
    const form = { grant_type: 'authorization_code', code: loc.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier };
    const first = await postForm(h.url, '/oauth/token', form, basic('web', SECRET));
    expect(first.status).toBe(200);
    expect((await introspect(first.body.access_token as string)).body.active).toBe(true);
    const second = await postForm(h.url, '/oauth/token', form, basic('web', SECRET));
    expect(second).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await introspect(first.body.access_token as string)).body).toEqual({ active: false });
    const rt = await postForm(
      h.url,
      '/oauth/token',
      { grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string },
      basic('web', SECRET),
    );
    expect(rt.body.error).toBe('invalid_grant');
  });

  it('binds the code to client, redirect URI, PKCE challenge and a 10-minute life', async () => {
    const c = h.browser();
    const get = async (extra: Record<string, string> = {}) => {
      const { verifier, challenge } = pkce();
      const loc = await authorize(
        c,
        authorizeUrl({
          client_id: 'web',
          redirect_uri: REDIRECT,
          scope: 'api',
          code_challenge: challenge,
          code_challenge_method: 'S256',
          ...extra,
        }),
      );
      return { code: loc.searchParams.get('code')!, verifier };
    };
    const tok = (form: Record<string, string>, auth = basic('web', SECRET)) =>
      postForm(h.url, '/oauth/token', { grant_type: 'authorization_code', redirect_uri: REDIRECT, ...form }, auth);
    let g = await get();
    expect((await tok({ code: g.code, code_verifier: pkce().verifier })).body.error).toBe('invalid_grant'); // wrong verifier
    expect((await tok({ code: g.code })).body.error).toBe('invalid_grant'); // missing verifier
    expect((await tok({ code: g.code, code_verifier: 'short' })).body.error).toBe('invalid_grant');
    expect((await tok({ code: g.code, code_verifier: g.verifier, redirect_uri: 'https://app.example/cb2' })).body.error).toBe(
      'invalid_grant',
    );
    expect((await tok({ code: g.code, code_verifier: g.verifier }, basic('post', 'x'))).status).toBe(401);
    g = await get();
    // Another client presenting it (here with its own valid credentials).
    const other = await postForm(h.url, '/oauth/token', {
      grant_type: 'authorization_code',
      redirect_uri: REDIRECT,
      code: g.code,
      code_verifier: g.verifier,
      client_id: 'post',
      client_secret: 'post-client-secret-0123456789',
    });
    expect(other.body).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/another client/) });
    const tampered = g.code.slice(0, -4) + (g.code.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect((await tok({ code: tampered, code_verifier: g.verifier })).body.error).toBe('invalid_grant');
    g = await get();
    h.clock.advance(601_000);
    expect((await tok({ code: g.code, code_verifier: g.verifier })).body).toMatchObject({
      error: 'invalid_grant',
      error_description: expect.stringMatching(/expired/),
    });
  });

  it('refuses a code_verifier for a code issued without a challenge (PKCE downgrade)', async () => {
    const c = h.browser();
    const loc = await authorize(c, authorizeUrl({ client_id: 'web', redirect_uri: REDIRECT, scope: 'api' }));
    const r = await postForm(
      h.url,
      '/oauth/token',
      { grant_type: 'authorization_code', code: loc.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: pkce().verifier },
      basic('web', SECRET),
    );
    expect(r.body).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/without code_challenge/) });
  });

  it('authenticates clients: wrong secret and unknown client are invalid_client (401, WWW-Authenticate for Basic)', async () => {
    const cc = { grant_type: 'client_credentials' };
    const wrong = await postForm(h.url, '/oauth/token', cc, basic('svc', 'wrong-secret-0123456789'));
    expect(wrong).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect((await postForm(h.url, '/oauth/token', cc, basic('nobody', 'x'))).body.error).toBe('invalid_client');
    expect(
      (await postForm(h.url, '/oauth/token', { ...cc, client_id: 'svc', client_secret: 'service-secret-0123456789' })).body.error,
    ).toBe('invalid_client'); // registered for basic
    expect((await postForm(h.url, '/oauth/token', { ...cc, client_id: 'svc' })).status).toBe(401);
    expect(
      (await postForm(h.url, '/oauth/token', { ...cc, client_secret: 'x' }, basic('svc', 'service-secret-0123456789'))).body.error,
    ).toBe('invalid_request');
    const ok = await postForm(h.url, '/oauth/token', { ...cc, scope: 'reports' }, basic('svc', 'service-secret-0123456789'));
    expect(ok).toMatchObject({ status: 200, body: { token_type: 'Bearer', scope: 'reports' } });
    expect(ok.body.refresh_token).toBeUndefined();
    // After a success (cached credentials), a wrong secret or a mismatching client_id is still refused.
    expect((await postForm(h.url, '/oauth/token', cc, basic('svc', 'service-secret-012345678X'))).status).toBe(401);
    expect((await postForm(h.url, '/oauth/token', { ...cc, client_id: 'web' }, basic('svc', 'service-secret-0123456789'))).body.error).toBe(
      'invalid_request',
    );
    expect((await introspect(ok.body.access_token as string)).body).toMatchObject({
      active: true,
      sub: 'svc',
      client_id: 'svc',
      scope: 'reports',
    });
    expect((await postForm(h.url, '/oauth/token', { ...cc, scope: 'admin' }, basic('svc', 'service-secret-0123456789'))).body.error).toBe(
      'invalid_scope',
    );
    expect(
      (
        await postForm(
          h.url,
          '/oauth/token',
          { grant_type: 'authorization_code', code: 'x'.repeat(50) },
          basic('svc', 'service-secret-0123456789'),
        )
      ).body.error,
    ).toBe('unauthorized_client');
    expect((await postForm(h.url, '/oauth/token', { grant_type: 'password' }, basic('svc', 'service-secret-0123456789'))).body.error).toBe(
      'unsupported_grant_type',
    );
    expect((await postForm(h.url, '/oauth/token', {}, basic('svc', 'service-secret-0123456789'))).body.error).toBe('invalid_request');
  });

  it('refuses oversized and repeated parameters with invalid_request, never a 500', async () => {
    const big = await postForm(
      h.url,
      '/oauth/token',
      { grant_type: 'client_credentials', scope: 'a'.repeat(5000) },
      basic('svc', 'service-secret-0123456789'),
    );
    expect(big).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    const res = await fetch(`${h.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('svc', 'service-secret-0123456789') },
      body: 'grant_type=client_credentials&grant_type=client_credentials',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
    const garbage = await postForm(h.url, '/oauth/token', { grant_type: 'refresh_token', refresh_token: '....' }, basic('web', SECRET));
    expect(garbage.body.error).toBe('invalid_grant');
    expect(CLIENTS.length).toBeGreaterThan(0);
  });
});
