import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Client, request } from 'undici';
import type { Broker } from '../../../adapters/kernel/boot.js';
import { startBroker } from '../../helpers/broker.js';
import { sessionCsrfToken } from '../../../adapters/http/session-csrf.js';
import gateway from '../../../plugins/gateway/index.js';
import { startEchoUpstream } from './upstream.js';

type Upstream = Awaited<ReturnType<typeof startEchoUpstream>>;

// All found by test/fuzz/routes.test.ts. (1) The broker parses urlencoded forms at its root for its
// own pages, and reply-from threw a TypeError on the parsed object: every form POST to an app was a
// 500. (2) When the app was down, the part of a large body the proxy had not read stayed in the
// client's keep-alive connection, and the next request on that connection was never answered.
// (3) A long app URL became a login redirect longer than any login request the broker accepts.
describe('gateway: bad input', () => {
  let broker: Broker;
  let base: string;
  let app: Upstream;
  let cookie: string;

  beforeAll(async () => {
    app = await startEchoUpstream('app');
    ({ broker, url: base } = await startBroker({
      extra: [
        {
          plugin: gateway,
          config: {
            routes: [
              { id: 'wiki', pathPrefix: '/apps/wiki', upstream: app.url },
              { id: 'down', pathPrefix: '/apps/down', upstream: 'http://127.0.0.1:9' },
            ],
          },
        },
      ],
    }));
    const { userId } = await broker.users.register({ email: 'ann@example.com' }, { actor: 'test' });
    cookie = `broker_session=${(await broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] })).sessionToken}`;
  });

  afterAll(async () => {
    await broker?.stop();
    await app?.close();
  });

  const post = async (contentType: string, body: string | Buffer) => {
    const res = await request(`${base}/apps/wiki/form`, { method: 'POST', body, headers: { cookie, 'content-type': contentType } });
    return { status: res.statusCode, echo: (await res.body.json()) as { body: string; headers: Record<string, string> } };
  };

  it('passes an urlencoded form POST to the app byte for byte (repeated keys, bad escapes and all)', async () => {
    const form = 'a=1&a=2&b%5B%5D=x&c=%zz&d=caf%C3%A9';
    const { status, echo } = await post('application/x-www-form-urlencoded', form);
    expect(status).toBe(200);
    expect(echo.body).toBe(form);
    expect(echo.headers['content-type']).toBe('application/x-www-form-urlencoded');
  });

  it('passes a form with a charset parameter, a JSON body and a multipart body unchanged', async () => {
    for (const [type, body] of [
      ['application/x-www-form-urlencoded; charset=utf-8', 'x=1'],
      ['application/json', '{"a":[1,2]}'],
      ['multipart/form-data; boundary=b', '--b\r\nContent-Disposition: form-data; name="f"\r\n\r\nv\r\n--b--\r\n'],
    ] as const) {
      const { status, echo } = await post(type, body);
      expect(status, type).toBe(200);
      expect(echo.body, type).toBe(body);
    }
  });

  it("still parses forms on the broker's own routes outside the gateway", async () => {
    // The portal is the gateway's own GET route; the broker's /logout form POST is parsed at the root.
    const { userId } = await broker.users.register({ email: 'bob@example.com' }, { actor: 'test' });
    const token = (await broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] })).sessionToken;
    const own = `broker_session=${token}`;
    const res = await request(`${base}/logout`, {
      method: 'POST',
      body: `x=1&_csrf=${sessionCsrfToken(token)}`,
      headers: { cookie: own, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });

  it('answers the next request on a connection whose large body a down app never took', async () => {
    const c = new Client(base); // one connection: the second request travels where the first body was left
    try {
      for (const size of [70_000, 300_000]) {
        const first = await c.request({
          path: '/apps/down/upload',
          method: 'POST',
          body: 'x'.repeat(size),
          headers: { cookie, 'content-type': 'application/octet-stream' },
        });
        expect(first.statusCode).toBe(502);
        await first.body.dump();
        const next = await c.request({ path: '/apps/down/again', method: 'POST', body: 'y', headers: { cookie }, headersTimeout: 3000 });
        expect(next.statusCode).toBe(502);
        await next.body.dump();
      }
    } finally {
      await c.close();
    }
  });

  it('answers a browser without a session at a very long app URL with a clear 400, not an unusable login redirect', async () => {
    const res = await request(`${base}/apps/wiki/page?q=${'a'.repeat(9000)}`, { headers: { accept: 'text/html' } });
    expect(res.statusCode).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(await res.body.text()).toContain('too large to carry through the login');
    const ok = await request(`${base}/apps/wiki/page?q=${'a'.repeat(3000)}`, { headers: { accept: 'text/html' } });
    expect(ok.statusCode).toBe(303);
    const lr = new URL(String(ok.headers.location), base).searchParams.get('lr')!;
    expect(() => broker.login.requests.decode(lr, new Date())).not.toThrow();
    await ok.body.dump();
  });
});
