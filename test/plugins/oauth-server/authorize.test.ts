import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { field } from '../../helpers/cookie-jar.js';
import { REDIRECT, authorize, authorizeUrl, pkce, startOAuth, type Harness } from './harness.js';

describe('oauth-server: authorization endpoint and consent', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startOAuth();
    await h.user('ann@example.com');
    await h.user('bob@example.com');
  });
  afterAll(async () => h.stop());

  const raw = (path: string, cookie?: string) =>
    fetch(`${h.url}${path}`, { redirect: 'manual', headers: { accept: 'text/html', ...(cookie ? { cookie } : {}) } });

  it('shows an error page, never a redirect, for an unknown client or an unregistered redirect URI', async () => {
    for (const q of [
      { client_id: 'nobody', redirect_uri: REDIRECT } as Record<string, string>,
      { client_id: 'web', redirect_uri: 'https://evil.example/cb' },
      { client_id: 'web', redirect_uri: `${REDIRECT}/` }, // exact match only
      { client_id: 'web', redirect_uri: `${REDIRECT}?x=1` },
      { client_id: 'web' }, // two registered: redirect_uri required
    ]) {
      const r = await raw(authorizeUrl(q));
      expect(r.status, JSON.stringify(q)).toBe(400);
      expect(r.headers.get('location')).toBeNull();
      expect(await r.text()).toMatch(/not registered|required/);
    }
  });

  it('returns errors to a valid redirect URI with state and iss (RFC 9207)', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ client_id: 'spa', redirect_uri: 'https://spa.example/cb' }, 'invalid_request'], // public client without PKCE
      [{ client_id: 'web', redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: 'plain' }, 'invalid_request'],
      [{ client_id: 'web', redirect_uri: REDIRECT, code_challenge: pkce().challenge }, 'invalid_request'], // method defaults to plain
      [{ client_id: 'web', redirect_uri: REDIRECT, code_challenge: 'short', code_challenge_method: 'S256' }, 'invalid_request'],
      [{ client_id: 'web', redirect_uri: REDIRECT, response_type: 'token' }, 'unsupported_response_type'],
      [{ client_id: 'web', redirect_uri: REDIRECT, scope: 'openid admin' }, 'invalid_scope'],
      [{ client_id: 'web', redirect_uri: REDIRECT, prompt: 'none' }, 'login_required'],
      [{ client_id: 'web', redirect_uri: REDIRECT, nonce: 'n'.repeat(1500) }, 'invalid_request'],
    ];
    for (const [q, error] of cases) {
      const r = await raw(authorizeUrl({ state: 'xyz', ...q }));
      expect(r.status, JSON.stringify(q)).toBe(303);
      const loc = new URL(r.headers.get('location')!);
      expect(loc.origin + loc.pathname).toBe(q.redirect_uri);
      expect(Object.fromEntries(loc.searchParams)).toMatchObject({ error, state: 'xyz', iss: h.url });
    }
  });

  it('refuses oversized and repeated parameters with a 400 page', async () => {
    expect((await raw(authorizeUrl({ client_id: 'web', redirect_uri: REDIRECT, state: 'x'.repeat(5000) }))).status).toBe(400);
    expect((await raw(`${authorizeUrl({ client_id: 'web', redirect_uri: REDIRECT })}&client_id=web`)).status).toBe(400);
  });

  it('asks for consent, remembers it (ConsentGranted), and a DENY returns access_denied', async () => {
    const c = h.browser();
    const { challenge } = pkce();
    const q = {
      client_id: 'web',
      redirect_uri: REDIRECT,
      scope: 'openid api',
      state: 'st',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    };
    const denied = await authorize(c, authorizeUrl(q), { decision: 'deny' });
    expect(Object.fromEntries(denied.searchParams)).toMatchObject({ error: 'access_denied', state: 'st', iss: h.url });
    const allowed = await authorize(c, authorizeUrl(q), { decision: 'allow' });
    expect(allowed.searchParams.get('code')).toBeTruthy();
    // Remembered: no page the next time, straight back with a code.
    const r = await c.request(authorizeUrl(q));
    expect(r.status).toBe(303);
    expect(new URL(r.headers.get('location')!).searchParams.get('code')).toBeTruthy();
    // A wider scope asks again.
    const wider = await c.get(authorizeUrl({ ...q, scope: 'openid api email' }));
    expect(wider.body).toContain('action="/oauth/consent"');
    const events = (await h.broker.store.readAll({ limit: 100000 })).map((e) => e.type);
    expect(events).toContain('ConsentGranted');
    expect(events).toContain('ConsentDenied');
  });

  it('skips consent for a first-party client', async () => {
    const c = h.browser();
    const loc = await authorize(c, authorizeUrl({ client_id: 'post', redirect_uri: 'https://post.example/cb', scope: 'openid' }));
    expect(loc.searchParams.get('code')).toBeTruthy();
  });

  it('refuses a consent POST from another session or with a bad csrf value (CSRF)', async () => {
    const ann = h.browser();
    const q = authorizeUrl({
      client_id: 'web',
      redirect_uri: REDIRECT,
      scope: 'openid profile',
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
    });
    let page = await ann.get(q);
    page = await ann.postForm('/password/login', {
      _csrf: field(page.body, '_csrf'),
      lr: field(page.body, 'lr'),
      email: 'ann@example.com',
      password: 'correct horse battery',
    });
    expect(page.body).toContain('action="/oauth/consent"');
    const ticket = field(page.body, 'ticket');
    const csrf = field(page.body, 'csrf');
    const bad = await ann.postForm('/oauth/consent', { ticket, csrf: csrf.slice(0, -2) + 'xx', decision: 'allow' });
    expect(bad.res.status).toBe(403);
    const bob = h.browser();
    const bobPage = await bob.get(q);
    await bob.postForm('/password/login', {
      _csrf: field(bobPage.body, '_csrf'),
      lr: field(bobPage.body, 'lr'),
      email: 'bob@example.com',
      password: 'correct horse battery',
    });
    const stolen = await bob.postForm('/oauth/consent', { ticket, csrf, decision: 'allow' });
    expect(stolen.res.status).toBe(403);
    const anon = await h.browser().postForm('/oauth/consent', { ticket, csrf, decision: 'allow' });
    expect(anon.res.status).toBe(401);
    const ok = await ann.request('/oauth/consent', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ticket, csrf, decision: 'allow' }).toString(),
    });
    expect(ok.status).toBe(303);
  });

  it('publishes RFC 8414 / OIDC discovery with every endpoint', async () => {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const m = (await (await fetch(`${h.url}${path}`)).json()) as Record<string, unknown>;
      expect(m).toMatchObject({
        issuer: h.url,
        authorization_endpoint: `${h.url}/oauth/authorize`,
        token_endpoint: `${h.url}/oauth/token`,
        jwks_uri: `${h.url}/.well-known/jwks.json`,
        introspection_endpoint: `${h.url}/oauth/introspect`,
        revocation_endpoint: `${h.url}/oauth/revoke`,
        userinfo_endpoint: `${h.url}/oauth/userinfo`,
        end_session_endpoint: `${h.url}/oauth/logout`,
        code_challenge_methods_supported: ['S256'],
        authorization_response_iss_parameter_supported: true,
        id_token_signing_alg_values_supported: ['ES256'],
      });
    }
    const clientEvents = (await h.broker.store.readAll({ limit: 100000 })).filter((e) => e.type === 'ClientRegistered');
    expect(clientEvents.map((e) => (e.data as { clientId: string }).clientId).sort()).toEqual(['post', 'spa', 'svc', 'web']);
    expect(JSON.stringify(clientEvents)).not.toContain('web-app-secret');
  });
});
