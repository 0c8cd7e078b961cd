import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
// oidc-provider ships no type declarations.
// @ts-expect-error no types
import Provider from 'oidc-provider';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import type { BrokerConfig } from '../../../config/types.js';
import type { Plugin } from '../../../adapters/kernel/boot.js';
import gateway from '../../../plugins/gateway/index.js';
import { startEchoUpstream } from './upstream.js';

/**
 * Seed 002: a bearer token from another IdP is checked at that IdP's userinfo endpoint and
 * `sub@iss` is mapped to a broker account by the provisioning policy. The IdP here is a real
 * oidc-provider on 127.0.0.1 issuing real opaque access tokens.
 */
describe('gateway: opaque tokens from an upstream OIDC IdP', () => {
  let broker: Broker;
  let base: string;
  let idp: InstanceType<typeof Provider>;
  let idpServer: http.Server;
  let issuer: string;
  let app: Awaited<ReturnType<typeof startEchoUpstream>>;
  let userinfoCalls = 0;

  const opaqueToken = async (accountId: string): Promise<string> => {
    const grant = new idp.Grant({ accountId, clientId: 'gw' });
    grant.addOIDCScope('openid email groups');
    const grantId = await grant.save();
    const client = await idp.Client.find('gw');
    const at = new idp.AccessToken({ accountId, client, grantId, scope: 'openid email groups' });
    return at.save();
  };
  const call = async (token: string) => {
    const res = await request(`${base}/api/data`, { headers: { authorization: `Bearer ${token}` } });
    const text = await res.body.text();
    return { status: res.statusCode, body: text };
  };

  beforeAll(async () => {
    app = await startEchoUpstream('api');
    idpServer = http.createServer();
    await new Promise<void>((r) => idpServer.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(idpServer.address() as AddressInfo).port}`;
    idp = new Provider(issuer, {
      clients: [{ client_id: 'gw', client_secret: 'gw-secret', redirect_uris: ['http://127.0.0.1/cb'] }],
      claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
      async findAccount(_ctx: unknown, sub: string) {
        return {
          accountId: sub,
          async claims() {
            return {
              sub,
              email: `${sub}@corp.example`,
              email_verified: true,
              groups: sub === 'staff1' || sub === 'staff2' ? ['staff'] : [],
            };
          },
        };
      },
    });
    idpServer.on('request', (req, res) => {
      if (req.url?.startsWith('/me')) userinfoCalls++;
      idp.callback()(req, res);
    });

    // The provisioning policy of the upstream IdP: gated on the `staff` group (seed 002).
    const corpIdp: Plugin = {
      name: 'corp-idp',
      register(ctx) {
        ctx.add.identityProvider({
          id: 'oidc-corp',
          displayName: 'Corp',
          protocol: 'oidc',
          interactive: false,
          loginPath: () => '/nowhere',
          provisioning: { policy: 'gated', condition: { group: 'staff' } },
        });
      },
    };
    const cfg: BrokerConfig = {
      server: { host: '127.0.0.1', port: 0, baseUrl: 'http://127.0.0.1', trustProxy: false, insecureCookies: true },
      dataDir: '/nonexistent',
      store: { kind: 'memory' },
      secrets: { masterKey: 'u'.repeat(32) },
      session: { absoluteSeconds: 3600, idleSeconds: 600 },
      log: { level: 'silent' },
      admin: { apiTokens: [] },
      sites: [],
      plugins: [],
    };
    broker = await bootBroker(cfg, {
      store: new MemoryEventStore(),
      plugins: [
        { plugin: corpIdp },
        {
          plugin: gateway,
          config: {
            routes: [{ id: 'api', pathPrefix: '/api', upstream: app.url, auth: 'bearer' }],
            upstreamIdp: {
              issuer,
              userinfoUrl: `${issuer}/me`,
              idp: 'oidc-corp',
              cache: { ttlSeconds: 60, negativeTtlSeconds: 60, maxEntries: 100 },
            },
          },
        },
      ],
    });
    base = await broker.listen();
  });

  afterAll(async () => {
    await broker?.stop();
    await app?.close();
    idpServer?.closeAllConnections();
    await new Promise((r) => idpServer?.close(r));
  });

  it('provisions a staff member from the userinfo answer and forwards their identity', async () => {
    const token = await opaqueToken('staff1');
    const r = await call(token);
    expect(r.status).toBe(200);
    const seen = JSON.parse(r.body) as { headers: Record<string, string> };
    const userId = seen.headers['x-user-id'];
    expect(seen.headers['x-user-email']).toBe('staff1@corp.example');
    expect(await broker.users.findByIdentity(issuer, 'staff1')).toBe(userId);
    // The same token again is answered from the cache: no second userinfo call.
    const before = userinfoCalls;
    expect((await call(token)).status).toBe(200);
    expect(userinfoCalls).toBe(before);
  });

  it('refuses a stranger the gated policy does not admit, and caches the refusal', async () => {
    const token = await opaqueToken('contractor');
    expect((await call(token)).status).toBe(401);
    const before = userinfoCalls;
    expect((await call(token)).status).toBe(401);
    expect(userinfoCalls).toBe(before);
    expect(await broker.users.findByIdentity(issuer, 'contractor')).toBeNull();
  });

  it('refuses a token the IdP does not know', async () => {
    expect((await call('opaque-token-that-was-never-issued-123')).status).toBe(401);
  });

  it('refuses a cached token the moment its user is banned', async () => {
    const token = await opaqueToken('staff2');
    expect((await call(token)).status).toBe(200);
    const userId = (await broker.users.findByIdentity(issuer, 'staff2'))!;
    const res = await broker.users.execute(userId, { type: 'ban', reason: 'left the company', actor: 'admin:t' }, { actor: 'admin:t' });
    await broker.projections.waitFor(res.position);
    expect((await call(token)).status).toBe(401);
  });
});
