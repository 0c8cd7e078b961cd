import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { ConfigError } from '../../../adapters/kernel/boot.js';

/** The passkey routes over a real socket: malformed, replayed, forged or unauthenticated input gets a clear 4xx, never a 500. */
describe('passkey routes refuse bad input', () => {
  let t: TestBroker;
  beforeAll(async () => {
    t = await startBroker({
      plugins: [{ name: 'passkey', config: {} }],
      config: { server: { host: '127.0.0.1', port: 0, baseUrl: 'http://localhost', trustProxy: false, insecureCookies: true } },
    });
  });
  afterAll(() => t.stop());
  const form = (path: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${t.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(body).toString(),
      redirect: 'manual',
    });

  it('an answer that is not JSON, or answers no challenge this browser was given, is a 400 page', async () => {
    expect((await form('/passkey/login/verify', { response: '{not json' })).status).toBe(400);
    const clientDataJSON = Buffer.from(
      JSON.stringify({ type: 'webauthn.get', challenge: 'never-issued', origin: 'http://localhost' }),
    ).toString('base64url');
    const forged = JSON.stringify({
      id: 'x',
      rawId: 'x',
      type: 'public-key',
      response: { clientDataJSON, authenticatorData: '', signature: '' },
      clientExtensionResults: {},
    });
    const r = await form('/passkey/login/verify', { response: forged });
    expect(r.status).toBe(400);
    expect(await r.text()).toContain('expired or was already used');
  });

  it('a challenge issued to one browser cannot be answered by another (no flow cookie)', async () => {
    const opts = await fetch(`${t.url}/passkey/login/options`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(opts.status).toBe(200);
    expect(opts.headers.get('set-cookie')).toMatch(/SameSite=Strict/i);
    const { challenge } = (await opts.json()) as { challenge: string };
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin: 'http://localhost' })).toString(
      'base64url',
    );
    const r = await form('/passkey/login/verify', {
      response: JSON.stringify({
        id: 'x',
        rawId: 'x',
        type: 'public-key',
        response: { clientDataJSON, authenticatorData: '', signature: '' },
        clientExtensionResults: {},
      }),
    });
    expect(r.status).toBe(400);
  });

  it('registration needs a session and its CSRF token; oversized and malformed bodies are 4xx', async () => {
    expect(
      (await fetch(`${t.url}/passkey/register/options`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }))
        .status,
    ).toBe(401);
    expect(
      (
        await fetch(`${t.url}/passkey/register/verify`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"response":{}}',
        })
      ).status,
    ).toBe(401);
    expect((await form('/passkey/login/verify', { response: 'x'.repeat(20_000) })).status).toBe(400);
    expect((await form('/passkey/remove', { credentialId: 'x' })).status).toBe(303); // no session: sent to log in
  });

  it("the page script is the broker's own file", async () => {
    const r = await fetch(`${t.url}/passkey/passkey.js`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/javascript/);
  });

  it('the login step refuses a missing, malformed, forged or oversized ticket with a 4xx', async () => {
    expect((await fetch(`${t.url}/passkey/step`)).status).toBe(400);
    expect((await fetch(`${t.url}/passkey/step?t=nonsense`)).status).toBe(400);
    expect((await fetch(`${t.url}/passkey/step?t=${'a'.repeat(20)}.${'b'.repeat(43)}`)).status).toBe(400);
    expect((await fetch(`${t.url}/passkey/step?t=${'a'.repeat(13_000)}`)).status).toBe(400);
    const json = (path: string, body: unknown) =>
      fetch(`${t.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await json('/passkey/step/options', { t: 'x.y' })).status).toBe(400);
    expect((await json('/passkey/step/options', {})).status).toBe(400);
    expect((await form('/passkey/step/verify', { t: 'x.y', response: '{}' })).status).toBe(400);
    expect((await form('/passkey/step/enrol', { t: 'x.y', response: 'not json' })).status).toBe(400);
    expect((await form('/passkey/step/recovery', { t: 'x.y', code: 'abc' }, { origin: 'http://localhost' })).status).toBe(400);
    expect((await form('/passkey/step/recovery', { t: 'x.y', code: 'abc' })).status).toBe(403); // no Origin: not from our page
  });
});

describe('passkey throttle', () => {
  it('the login ceremonies are throttled per IP (429 past rateLimit.max)', async () => {
    const t = await startBroker({
      plugins: [{ name: 'passkey', config: { rateLimit: { max: 3, windowSeconds: 60 } } }],
      config: { server: { host: '127.0.0.1', port: 0, baseUrl: 'http://localhost', trustProxy: false, insecureCookies: true } },
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++)
        statuses.push(
          (await fetch(`${t.url}/passkey/login/options`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }))
            .status,
        );
      expect(statuses).toEqual([200, 200, 200, 429]);
    } finally {
      await t.stop();
    }
  });
});

describe('passkey relying party at start', () => {
  it('a base URL browsers cannot use for passkeys stops the start with a ConfigError naming it', async () => {
    const start = startBroker({
      plugins: [{ name: 'passkey', config: {} }],
      config: { server: { host: '127.0.0.1', port: 0, baseUrl: 'http://login.example.com', trustProxy: false, insecureCookies: true } },
    });
    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toThrow(/https \(or http:\/\/localhost\).*http:\/\/login\.example\.com/);
  });
});
