import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import WebSocket from 'ws';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import type { BrokerConfig } from '../../../config/types.js';
import gateway from '../../../plugins/gateway/index.js';
import type { GatewayConfig } from '../../../plugins/gateway/config.js';
import { startEchoUpstream } from './upstream.js';

type Upstream = Awaited<ReturnType<typeof startEchoUpstream>>;

const config = (): BrokerConfig => ({
  server: { host: '127.0.0.1', port: 0, baseUrl: 'http://127.0.0.1', trustProxy: false, insecureCookies: true },
  dataDir: '/nonexistent',
  store: { kind: 'memory' },
  secrets: { masterKey: 'g'.repeat(32) },
  session: { absoluteSeconds: 3600, idleSeconds: 600 },
  log: { level: 'silent' },
  admin: { apiTokens: [] },
  sites: [],
  plugins: [],
});

describe('gateway', () => {
  let broker: Broker;
  let base: string;
  let app: Upstream;
  let legacy: Upstream;
  let admin: Upstream;
  let slow: { url: string; close: () => Promise<void> };
  let aliceId: string;
  let aliceCookie: string;
  let bossCookie: string;

  const login = async (userId: string) => {
    const out = await broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] });
    return `broker_session=${out.sessionToken}`;
  };

  beforeAll(async () => {
    app = await startEchoUpstream('app');
    legacy = await startEchoUpstream('legacy');
    admin = await startEchoUpstream('admin');
    const slowServer = http.createServer((_req, res) => setTimeout(() => res.end('late'), 3000).unref());
    await new Promise<void>((r) => slowServer.listen(0, '127.0.0.1', r));
    slow = {
      url: `http://127.0.0.1:${(slowServer.address() as AddressInfo).port}`,
      close: () =>
        new Promise((r) => {
          slowServer.closeAllConnections();
          slowServer.close(() => r());
        }),
    };
    const gw: Partial<GatewayConfig> = {
      routes: [
        {
          id: 'wiki',
          name: 'Wiki',
          pathPrefix: '/apps/wiki',
          upstream: app.url,
          websocket: true,
          alternates: [{ when: { attribute: 'tenant', equals: 'old-corp' }, upstream: legacy.url }],
        },
        { id: 'ops', name: 'Ops console', pathPrefix: '/apps/ops', upstream: admin.url, access: { require: 'admin' } },
        { id: 'api', pathPrefix: '/api', upstream: app.url, auth: 'bearer', listed: false },
        { id: 'down', pathPrefix: '/apps/down', upstream: 'http://127.0.0.1:9' },
        { id: 'slow', pathPrefix: '/apps/slow', upstream: slow.url, timeoutMs: 300, listed: false },
      ],
    };
    broker = await bootBroker(config(), { store: new MemoryEventStore(), plugins: [{ plugin: gateway, config: gw }] });
    base = await broker.listen();
    aliceId = (await broker.users.register({ email: 'alice@example.com', name: 'Alice' }, { actor: 'test' })).userId;
    const boss = await broker.users.register({ email: 'boss@example.com', admin: true }, { actor: 'test' });
    aliceCookie = await login(aliceId);
    bossCookie = await login(boss.userId);
  });

  afterAll(async () => {
    await broker?.stop();
    await Promise.all([app?.close(), legacy?.close(), admin?.close(), slow?.close()]);
  });

  it('sends a browser without a session to the login page and keeps where it was going', async () => {
    const res = await request(`${base}/apps/wiki/page?x=1`, { headers: { accept: 'text/html' } });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toMatch(/^\/login\?lr=/);
    await res.body.dump();
  });

  it('answers an API client without credentials with 401 and WWW-Authenticate', async () => {
    const res = await request(`${base}/api/things`);
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="broker"'); // no token, no error code (RFC 6750 §3.1)
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    await res.body.dump();
  });

  it('proxies a logged-in user with identity headers and strips forged ones', async () => {
    const res = await request(`${base}/apps/wiki/page?x=1`, {
      headers: {
        cookie: `${aliceCookie}; other=1`,
        'x-user-id': 'admin',
        'x-user-roles': 'admin',
        'X-Tenant-Id': 'evil',
        'x-access-token': 'forged',
        authorization: 'Basic Zm9vOmJhcg==',
      },
    });
    expect(res.statusCode).toBe(200);
    const body = (await res.body.json()) as { upstream: string; url: string; headers: Record<string, string> };
    expect(body.upstream).toBe('app');
    expect(body.url).toBe('/page?x=1');
    expect(body.headers['x-user-id']).toBe(aliceId);
    expect(body.headers['x-user-email']).toBe('alice@example.com');
    expect(body.headers['x-user-roles']).toBe('');
    expect(body.headers['x-tenant-id']).toBeUndefined();
    expect(body.headers['x-access-token']).not.toBe('forged');
    expect(body.headers.authorization).toBeUndefined();
    expect(body.headers.cookie).toBe('other=1');
    expect(body.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(body.headers['x-request-id']).toBeTruthy();
    // The app's response is not dressed in the broker's CSP (made for its own pages).
    expect(res.headers['content-security-policy']).toBeUndefined();
  });

  it('does not let a Connection header smuggle the identity headers away', async () => {
    const res = await request(`${base}/apps/wiki/x`, {
      headers: { cookie: aliceCookie, connection: 'keep-alive, x-user-id, x-access-token' },
    });
    const body = (await res.body.json()) as { headers: Record<string, string> };
    expect(body.headers['x-user-id']).toBe(aliceId);
    expect(body.headers.connection ?? '').not.toMatch(/x-user-id/);
  });

  it('streams request bodies through', async () => {
    const big = 'y'.repeat(200_000);
    const res = await request(`${base}/apps/wiki/upload`, {
      method: 'POST',
      body: big,
      headers: { cookie: aliceCookie, 'content-type': 'text/plain' },
    });
    const body = (await res.body.json()) as { body: string; method: string };
    expect(body.method).toBe('POST');
    expect(body.body.length).toBe(200_000);
  });

  it('refuses a non-admin at an admin-only app, including through path tricks', async () => {
    const direct = await request(`${base}/apps/ops/`, { headers: { cookie: aliceCookie } });
    expect(direct.statusCode).toBe(403);
    await direct.body.dump();
    for (const path of ['/apps/wiki/../ops/', '/apps/wiki/%2e%2e/ops/', '/apps/wiki/..%2fops/', '/apps/wiki/%252e%252e/ops/']) {
      const res = await request(`${base}${path}`, { headers: { cookie: aliceCookie } });
      const text = await res.body.text();
      // Either refused, or proxied to the wiki app: never to the admin app.
      expect(text).not.toContain('"upstream":"admin"');
      expect(res.statusCode).toBeLessThan(500);
    }
    const ok = await request(`${base}/apps/ops/`, { headers: { cookie: bossCookie } });
    expect(((await ok.body.json()) as { upstream: string }).upstream).toBe('admin');
  });

  it('routes a user to the legacy backend by attribute (seed 002)', async () => {
    const carol = await broker.users.register({ email: 'carol@example.com' }, { actor: 'test' });
    await broker.users.execute(
      carol.userId,
      { type: 'assignRoles', roles: ['reader'], tenant: 'old-corp', source: 'test' },
      { actor: 'test' },
    );
    const cookie = await login(carol.userId);
    const res = await request(`${base}/apps/wiki/`, { headers: { cookie } });
    const body = (await res.body.json()) as { upstream: string; headers: Record<string, string> };
    expect(body.upstream).toBe('legacy');
    expect(body.headers['x-tenant-id']).toBe('old-corp');
    expect(body.headers['x-user-roles']).toBe('reader');
  });

  it('answers 502 with a problem when the upstream is down', async () => {
    const res = await request(`${base}/apps/down/`, { headers: { cookie: aliceCookie } });
    expect(res.statusCode).toBe(502);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    await res.body.dump();
  });

  it('answers 504 when the upstream is slower than the route timeout', async () => {
    const res = await request(`${base}/apps/slow/`, { headers: { cookie: aliceCookie } });
    expect(res.statusCode).toBe(504);
    await res.body.dump();
  });

  it('refuses oversized headers with 431 and forwards nothing', async () => {
    const before = app.seen.length;
    const res = await request(`${base}/apps/wiki/`, { headers: { cookie: aliceCookie, 'x-junk': 'j'.repeat(40_000) } }).catch(
      (e: Error) => e,
    );
    if (res instanceof Error) expect(res.message).toMatch(/socket|closed|other side/i);
    else {
      expect(res.statusCode).toBe(431);
      await res.body.dump();
    }
    expect(app.seen.length).toBe(before);
  });

  it('lists the apps a user may open, and the admin panel for admins', async () => {
    const a = await request(`${base}/apps`, { headers: { cookie: aliceCookie } });
    const alist = (await a.body.json()) as { apps: { id: string }[]; admin: boolean };
    expect(alist.apps.map((x) => x.id)).toEqual(['wiki', 'down']);
    expect(alist.admin).toBe(false);
    const b = await request(`${base}/apps`, { headers: { cookie: bossCookie, accept: 'text/html' } });
    const page = await b.body.text();
    expect(page).toContain('Ops console');
    expect(page).toContain('Admin panel');
  });

  it('proxies WebSocket upgrades for a logged-in user with identity headers', async () => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/apps/wiki/socket`, { headers: { cookie: aliceCookie } });
    const reply = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('hello'));
      ws.on('message', (d) => resolve(d.toString()));
      ws.on('error', reject);
    });
    ws.close();
    expect(JSON.parse(reply)).toEqual({ upstream: 'app', echo: 'hello', user: aliceId });
  });

  it('refuses a WebSocket upgrade without a session', async () => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/apps/wiki/socket`);
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => resolve(-1));
    });
    expect(status).toBe(401);
  });

  it('refuses a banned user on the very next request', async () => {
    const dave = await broker.users.register({ email: 'dave@example.com' }, { actor: 'test' });
    const cookie = await login(dave.userId);
    const before = await request(`${base}/apps/wiki/`, { headers: { cookie } });
    expect(before.statusCode).toBe(200);
    await before.body.dump();
    const res = await broker.users.execute(dave.userId, { type: 'ban', reason: 'abuse', actor: 'admin:t' }, { actor: 'admin:t' });
    await broker.projections.waitFor(res.position);
    const after = await request(`${base}/apps/wiki/`, { headers: { cookie } });
    expect(after.statusCode).toBe(401);
    await after.body.dump();
  });

  it('refuses a garbage bearer token with 401 invalid_token, an oversized or malformed one with 400 invalid_request (RFC 6750 §3.1)', async () => {
    const a = await request(`${base}/api/x`, { headers: { authorization: 'Bearer not.a.jwt' } });
    expect(a.statusCode).toBe(401);
    expect(a.headers['www-authenticate']).toMatch(/^Bearer realm="broker", error="invalid_token", error_description="[^"]+"$/);
    await a.body.dump();
    for (const authorization of ['Bearer ' + 'a'.repeat(9000), 'Bearer two words']) {
      const r = await request(`${base}/api/x`, { headers: { authorization } });
      expect(r.statusCode).toBe(400);
      expect(r.headers['www-authenticate']).toMatch(/^Bearer realm="broker", error="invalid_request", error_description="[^"]+"$/);
      expect(r.headers['content-type']).toMatch(/problem\+json/);
      await r.body.dump();
    }
  });
});
