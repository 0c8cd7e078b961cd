import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { TOKENS } from '../../../adapters/kernel/tokens.js';
import { CLIENTS, SECRET, basic, codeFlow, postForm, startOAuth, type Harness } from './harness.js';

describe('oauth-server: per-client audience and the revocation hook for the gateway', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startOAuth(CLIENTS.map((c) => (c.clientId === 'web' ? { ...c, audience: 'https://cases.example' } : c)));
    await h.user('ann@example.com');
  });
  afterAll(async () => h.stop());

  it('issues tokens for the client audience, introspects them, and still refuses foreign audiences', async () => {
    const t = await codeFlow(h, h.browser());
    expect(h.keys.verifySync(t.access_token as string).aud).toBe('https://cases.example');
    const svc = basic('svc', 'service-secret-0123456789');
    expect((await postForm(h.url, '/oauth/introspect', { token: t.access_token as string }, svc)).body.active).toBe(true);
    const cc = await postForm(h.url, '/oauth/token', { grant_type: 'client_credentials', scope: 'api' }, svc);
    expect(h.keys.verifySync(cc.body.access_token as string).aud).toBe(`${h.url}/api`);
    const foreign = h.keys.signSync({ ...h.keys.verifySync(t.access_token as string), aud: 'https://other.example' }, { typ: 'at+jwt' });
    expect((await postForm(h.url, '/oauth/introspect', { token: foreign }, svc)).body).toEqual({ active: false });
  });

  it('binds broker.AccessTokenRevoked: true once the token or its grant is revoked', async () => {
    const revoked = h.broker.container.get<(c: Record<string, unknown>) => boolean>(TOKENS.AccessTokenRevoked);
    const t = await codeFlow(h, h.browser());
    const claims = h.keys.verifySync(t.access_token as string);
    expect(revoked(claims)).toBe(false);
    await postForm(h.url, '/oauth/revoke', { token: t.access_token as string }, basic('web', SECRET));
    expect(revoked(claims)).toBe(true);
    const t2 = await codeFlow(h, h.browser());
    const c2 = h.keys.verifySync(t2.access_token as string);
    await postForm(h.url, '/oauth/revoke', { token: t2.refresh_token as string }, basic('web', SECRET));
    expect(revoked(c2)).toBe(true);
    expect(revoked({ ...c2, gid: undefined, jti: 'x', client_id: 'gone' })).toBe(true);
  });
});
