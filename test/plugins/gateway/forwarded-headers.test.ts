import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import { request } from 'undici';
import type { Broker } from '../../../adapters/kernel/boot.js';
import { startBroker } from '../../helpers/broker.js';
import gateway from '../../../plugins/gateway/index.js';
import { startEchoUpstream, type Seen } from './upstream.js';

type Upstream = Awaited<ReturnType<typeof startEchoUpstream>>;

/**
 * One raw HTTP/1.1 request, so header spellings undici would refuse or merge (underscores, two
 * spellings of one name) reach the broker exactly as an attacker sends them.
 */
function rawGet(base: string, path: string, lines: string[]): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname, () =>
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n${lines.join('\r\n')}\r\n\r\n`),
    );
    let text = '';
    // Done when the head and content-length bytes of body are in (the connection may stay open).
    sock.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const len = /\r\ncontent-length: (\d+)/i.exec(text);
      if (end >= 0 && len && text.length >= end + 4 + Number(len[1])) {
        sock.destroy();
        resolve(text);
      }
    });
    sock.on('error', reject);
  });
}

describe('gateway: what the app receives', () => {
  let broker: Broker;
  let base: string;
  let app: Upstream;
  let userId: string;
  let token: string;

  beforeAll(async () => {
    app = await startEchoUpstream('app');
    ({ broker, url: base } = await startBroker({
      extra: [
        {
          plugin: gateway,
          config: {
            routes: [
              { id: 'echo', pathPrefix: '/apps/echo', upstream: app.url },
              { id: 'wiki', host: 'wiki.localhost', pathPrefix: '/', upstream: app.url },
              { id: 'basic', pathPrefix: '/apps/basic', upstream: app.url, forwardHeaders: ['authorization', 'remote-user'] },
            ],
          },
        },
      ],
    }));
    ({ userId } = await broker.users.register({ email: 'ann@example.com' }, { actor: 'test' }));
    token = (await broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] })).sessionToken;
  });

  afterAll(async () => {
    await broker?.stop();
    await app?.close();
  });

  const lastSeen = (): Seen => app.seen[app.seen.length - 1];

  it('strips every spelling of the identity headers, the forwarding headers, broker credentials and broker cookies', async () => {
    const before = app.seen.length;
    const forged = [
      'X-User-Id: forged-dash',
      'x_user_id: forged-underscore',
      'X_USER_EMAIL: evil@example.com',
      'x-user_roles: admin',
      'X_Tenant_Id: evil',
      'x_access_token: forged-jwt',
      'Remote-User: admin',
      'remote_user: admin',
      'X-Remote-User: admin',
      'Proxy-Authorization: Basic Zm9vOmJhcg==',
      'Authorization: Basic Zm9vOmJhcg==',
      'Forwarded: for=6.6.6.6;proto=https;host=evil.example',
      'X-Real-IP: 6.6.6.6',
      'x_real_ip: 6.6.6.6',
      'X-Forwarded-For: 6.6.6.6',
      'x_forwarded_for: 6.6.6.6',
      'X-Forwarded-Host: evil.example',
      'X-Forwarded-Proto: https',
      'True-Client-IP: 6.6.6.6',
      'X-Original-URL: /admin',
      `Cookie: broker_session=${token}; broker_csrf=c1; __Host-broker_csrf=c2; broker_saml_corp=s; __Host-broker_saml_corp=s2; oidc_rp_google=o; __Host-broker_session=x; app_pref=dark`,
    ];
    const res = await rawGet(base, '/apps/echo/page?x=1', forged);
    expect(res.slice(0, 400)).toMatch(/^HTTP\/1.1 200/);
    expect(app.seen.length).toBe(before + 1);
    const h = lastSeen().headers;
    const names = Object.keys(h);
    // Node keeps underscore names as sent: none of them may reach the app.
    expect(names.filter((n) => n.includes('_'))).toEqual([]);
    expect(h['x-user-id']).toBe(userId);
    expect(h['x-user-email']).toBe('ann@example.com');
    expect(h['x-user-roles']).toBe('');
    expect(h['x-tenant-id']).toBeUndefined();
    expect(h['x-access-token']).not.toBe('forged-jwt');
    for (const n of ['remote-user', 'x-remote-user', 'proxy-authorization', 'authorization', 'true-client-ip', 'x-original-url'])
      expect(h[n], n).toBeUndefined();
    // The forwarding headers are the broker's own, from the connection (no trustProxy here).
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-real-ip']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe(new URL(base).host);
    expect(h.forwarded).toBe(`for=127.0.0.1;proto=http;host="${new URL(base).host}"`);
    expect(h.cookie).toBe('app_pref=dark');
  });

  it('lets a route allow a credential it needs, in its own spelling only', async () => {
    await rawGet(base, '/apps/basic/', [
      `Cookie: broker_session=${token}`,
      'Authorization: Basic Zm9vOmJhcg==',
      'Proxy-Authorization: Basic eA==',
      'X-User-Id: forged',
    ]);
    expect(lastSeen().headers.authorization).toBe('Basic Zm9vOmJhcg==');
    expect(lastSeen().headers['proxy-authorization']).toBeUndefined();
    expect(lastSeen().headers['x-user-id']).toBe(userId);
    await rawGet(base, '/apps/basic/', [`Cookie: broker_session=${token}`, 'remote_user: underscore', 'Remote-User: dashed']);
    expect(lastSeen().headers['remote-user']).toBe('dashed');
    expect(Object.keys(lastSeen().headers).filter((n) => n.includes('_'))).toEqual([]);
  });

  it('refuses a route that tries to allow an identity or forwarding header', async () => {
    for (const bad of [['x-user-id'], ['X-Access-Token'], ['x-forwarded-for'], ['forwarded']]) {
      await expect(
        startBroker({
          extra: [{ plugin: gateway, config: { routes: [{ id: 'x', pathPrefix: '/x', upstream: app.url, forwardHeaders: bad }] } }],
        }),
        bad[0],
      ).rejects.toThrow(/forwardHeaders may not name/);
    }
  });

  it('maps the prefix with a query string to the app root with that query', async () => {
    const cookie = `broker_session=${token}`;
    for (const [path, expected] of [
      ['/apps/echo?x=1', '/?x=1'],
      ['/apps/echo', '/'],
      ['/apps/echo/?x=1', '/?x=1'],
      ['/apps/echo/a/b?x=1&y=%20', '/a/b?x=1&y=%20'],
    ]) {
      const res = await request(`${base}${path}`, { headers: { cookie } });
      expect(res.statusCode, path).toBe(200);
      expect(((await res.body.json()) as { url: string }).url, path).toBe(expected);
    }
  });

  it('serves an app on its own host name: matched by Host, the whole path space is the app', async () => {
    const before = app.seen.length;
    const { port } = new URL(base);
    const onHost = await request(`${base}/notes/1?x=1`, { headers: { host: `wiki.localhost:${port}`, cookie: `broker_session=${token}` } });
    expect(onHost.statusCode).toBe(200);
    const seen = (await onHost.body.json()) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/notes/1?x=1');
    expect(seen.headers['x-user-id']).toBe(userId);
    expect(seen.headers['x-forwarded-host']).toBe(`wiki.localhost:${port}`);
    expect(app.seen.length).toBe(before + 1);
    // On the broker's own host name the same path is not the app.
    const onBroker = await request(`${base}/notes/1?x=1`, { headers: { cookie: `broker_session=${token}` } });
    expect(onBroker.statusCode).toBe(404);
    await onBroker.body.dump();
  });
});
