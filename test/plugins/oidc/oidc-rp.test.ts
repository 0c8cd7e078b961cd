import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Browser, type Page } from '../../interop/saml/browser.js';
import { freePort, startBroker, loginRequest, events } from '../../interop/saml/world.js';
import { UpstreamOidc } from '../../interop/oidc-upstream/provider.js';
import { RogueIdp } from '../../interop/oidc-upstream/rogue-idp.js';
import type { Broker } from '../../../adapters/kernel/boot.js';

describe('OIDC relying party against oidc-provider', () => {
  let upstream: UpstreamOidc;
  let rogue: RogueIdp;
  let broker: Broker;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    upstream = await UpstreamOidc.start([`${base}/oidc/corp/callback`, `${base}/oidc/corp2/callback`]);
    rogue = await RogueIdp.start();
    const common = { clientId: 'broker', clientSecret: 'broker-secret-0123456789', allowInsecureIssuer: true };
    ({ broker, url } = await startBroker(
      [
        {
          name: 'oidc',
          config: {
            idps: [
              {
                name: 'corp',
                issuer: upstream.issuer,
                ...common,
                scopes: ['openid', 'email', 'profile', 'groups', 'tenant'],
                claims: { groups: 'groups', tenant: 'tenant' },
                userinfo: true,
                provisioning: { policy: 'auto' },
              },
              // A second IdP whose ID tokens can be made bad on purpose.
              { name: 'rogue', issuer: rogue.issuer, ...common, provisioning: { policy: 'auto' } },
              { name: 'down', issuer: 'http://127.0.0.1:1', ...common },
            ],
          },
        },
      ],
      [],
      port,
    ));
  });
  afterAll(async () => {
    await broker?.stop();
    await upstream?.close();
    await rogue?.close();
  });

  const start = (name: string, state = 's') => `${url}/oidc/${name}/login?lr=${encodeURIComponent(loginRequest(broker, state))}`;
  async function expectRefused(page: Page, reason: string): Promise<void> {
    expect(page.status).toBeGreaterThanOrEqual(400);
    expect(page.status).toBeLessThan(500);
    expect(page.body).toContain('Login refused');
    const failed = await events(broker, 'LoginFailed');
    expect((failed.at(-1)!.data as { reason: string }).reason).toBe(reason);
  }

  it('uses the code flow with PKCE, state and nonce; provisions on the first login and reuses the user', async () => {
    upstream.accounts.set('carol', { email: 'carol@corp.example', email_verified: true, name: 'Carol', groups: ['staff'], tenant: 'acme' });
    const b = new Browser();
    const redirect = await b.fetch(start('corp'));
    const auth = new URL(String(redirect.headers.location));
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('state')).toBeTruthy();
    expect(auth.searchParams.get('nonce')).toBeTruthy();
    const done = await upstream.login(b, auth.href, 'carol');
    expect(done.status).toBe(200);
    const userId = /user=([\w-]+)/.exec(done.body)![1];
    expect(done.body).toContain('tenant=acme');
    const prov = (await events(broker, 'AccountProvisioned')).map((e) => e.data);
    expect(prov).toContainEqual(expect.objectContaining({ userId, issuer: upstream.issuer, subject: 'carol', policy: 'auto' }));
    const again = await upstream.login(new Browser(), start('corp'), 'carol');
    expect(again.body).toContain(`user=${userId}`);
  });

  it('is offered on the login chooser, which links to the IdP with the login request', async () => {
    const lr = loginRequest(broker);
    const page = await new Browser().fetch(`${url}/login?lr=${encodeURIComponent(lr)}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain(`/oidc/corp/login?lr=${encodeURIComponent(lr)}`);
    expect(page.body).toContain(`/oidc/rogue/login?lr=${encodeURIComponent(lr)}`);
  });

  it('refuses a wrong state', async () => {
    const b = new Browser();
    const back = await upstream.login(b, start('corp'), 'carol', `${url}/oidc/corp/callback`);
    const cb = new URL(String(back.headers.location));
    cb.searchParams.set('state', 'forged-state');
    await expectRefused(await b.fetch(cb.href), 'oidc_state_mismatch');
  });

  it('refuses a wrong iss response parameter (RFC 9207 mix-up defence)', async () => {
    const b = new Browser();
    const back = await upstream.login(b, start('corp'), 'carol', `${url}/oidc/corp/callback`);
    const cb = new URL(String(back.headers.location));
    expect(cb.searchParams.get('iss')).toBe(upstream.issuer);
    cb.searchParams.set('iss', rogue.issuer);
    await expectRefused(await b.fetch(cb.href), 'oidc_wrong_iss');
  });

  it('refuses a callback without the attempt cookie (login CSRF / another browser)', async () => {
    const b = new Browser();
    const back = await upstream.login(b, start('corp'), 'carol', `${url}/oidc/corp/callback`);
    await expectRefused(await new Browser().fetch(String(back.headers.location)), 'oidc_no_attempt');
  });

  it('shows a clear page when the IdP reports an error (access_denied)', async () => {
    const b = new Browser();
    const back = await upstream.login(b, start('corp'), 'carol', `${url}/oidc/corp/callback`);
    const cb = new URL(String(back.headers.location));
    cb.searchParams.delete('code');
    cb.searchParams.set('error', 'access_denied');
    await expectRefused(await b.fetch(cb.href), 'oidc_idp_error');
  });

  it('shows a clear 503 page when the IdP cannot be reached', async () => {
    const page = await new Browser().fetch(start('down'));
    expect(page.status).toBe(503);
    expect(page.body).toContain('Identity provider unavailable');
  });

  it('accepts a correct ID token from the second IdP (so the refusals below are about the token)', async () => {
    rogue.mode = 'ok';
    const b = new Browser();
    const done = await b.follow(start('rogue'));
    expect(done.status).toBe(200);
    expect(done.body).toMatch(/user=[\w-]+/);
  });

  for (const [mode, reason] of [
    ['wrong-nonce', 'oidc_nonce_mismatch'],
    ['other-key', 'oidc_bad_signature'],
    ['expired', 'oidc_expired'],
    ['wrong-aud', 'oidc_wrong_claims'],
  ] as const) {
    it(`refuses an ID token: ${mode}`, async () => {
      rogue.mode = mode;
      try {
        await expectRefused(await new Browser().follow(start('rogue')), reason);
      } finally {
        rogue.mode = 'ok';
      }
    });
  }
});
