import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { basic, codeFlow, startOAuth, type Harness } from './harness.js';

const SVC = basic('svc', 'service-secret-0123456789');

/**
 * check-token and introspection answer by the same rules as userinfo and the gateway: a caller that
 * sent no client credentials gets a 401 naming how to authenticate (the client's Basic), failed
 * Basic credentials the same challenge, an inactive token `active: false` (RFC 7662 §2.2) and
 * never an error; header by header.
 */
describe('oauth-server: check-token and introspection challenges', () => {
  let h: Harness;
  let at: string;
  beforeAll(async () => {
    h = await startOAuth();
    await h.user('ann@example.com');
    at = (await codeFlow(h, h.browser())).access_token as string;
  });
  afterAll(async () => h.stop());

  const post = (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${h.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });

  for (const path of ['/oauth/check-token', '/oauth/introspect']) {
    it(`${path}: a caller without client credentials (or with only the bearer token) gets 401 invalid_client and the Basic challenge`, async () => {
      for (const [form, headers] of [
        [{ token: at }, {}],
        [{ token: at }, { authorization: `Bearer ${at}` }],
        [{ token: at, client_id: 'web' }, {}],
        [{ token: at }, { authorization: basic('svc', 'wrong') }],
      ] as [Record<string, string>, Record<string, string>][]) {
        const r = await post(path, form, headers);
        expect(r.status, JSON.stringify([form, headers])).toBe(401);
        expect(r.headers.get('www-authenticate')).toBe('Basic realm="broker"');
        expect(r.headers.get('cache-control')).toBe('no-store');
        expect((await r.json()).error).toBe('invalid_client');
      }
      // Credentials in the body that fail: 401 invalid_client in the body (RFC 6749 §5.2).
      const post401 = await post(path, { token: at, client_id: 'svc', client_secret: 'wrong' });
      expect(post401.status).toBe(401);
      expect((await post401.json()).error).toBe('invalid_client');
    });

    it(`${path}: an authenticated caller asking about a bad token gets 200 active:false and no challenge`, async () => {
      const r = await post(path, { token: 'not.a.token' }, { authorization: SVC });
      expect(r.status).toBe(200);
      expect(r.headers.get('www-authenticate')).toBeNull();
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect(await r.json()).toEqual({ active: false });
      const ok = await post(path, { token: at }, { authorization: SVC });
      expect((await ok.json()).active).toBe(true);
    });
  }
});
