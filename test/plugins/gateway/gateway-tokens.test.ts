import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { request } from 'undici';
import { createRemoteJWKSet, jwtVerify, SignJWT, generateKeyPair } from 'jose';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import { TOKENS } from '../../../adapters/kernel/tokens.js';
import type { SigningKeys } from '../../../adapters/crypto/signing-keys.js';
import type { BrokerConfig } from '../../../config/types.js';
import gateway from '../../../plugins/gateway/index.js';
import { startEchoUpstream } from './upstream.js';

type Upstream = Awaited<ReturnType<typeof startEchoUpstream>>;

describe("gateway: internal JWT and the broker's bearer tokens", () => {
  let broker: Broker;
  let base: string;
  let issuer: string;
  let app: Upstream;
  let keys: SigningKeys;
  let userId: string;
  let sessionId: string;
  let cookie: string;

  const accessToken = async (claims: Record<string, unknown>) => {
    const iat = Math.floor(Date.now() / 1000);
    return keys.sign(
      { iss: issuer, sub: userId, aud: 'api', client_id: 'c1', scope: 'read', iat, exp: iat + 300, jti: crypto.randomUUID(), ...claims },
      { typ: 'at+jwt' },
    );
  };
  const call = async (token: string) => {
    const res = await request(`${base}/api/things`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.body.text();
    return { status: res.statusCode, www: String(res.headers['www-authenticate'] ?? ''), body };
  };

  beforeAll(async () => {
    app = await startEchoUpstream('api');
    const cfg: BrokerConfig = {
      server: { host: '127.0.0.1', port: 0, baseUrl: 'http://127.0.0.1', trustProxy: false, insecureCookies: true },
      dataDir: '/nonexistent',
      store: { kind: 'memory' },
      secrets: { masterKey: 't'.repeat(32) },
      session: { absoluteSeconds: 3600, idleSeconds: 600 },
      log: { level: 'silent' },
      admin: { apiTokens: [] },
      sites: [],
      plugins: [],
    };
    broker = await bootBroker(cfg, {
      store: new MemoryEventStore(),
      plugins: [
        {
          plugin: gateway,
          config: {
            routes: [
              { id: 'api', pathPrefix: '/api', upstream: app.url },
              { id: 'other', pathPrefix: '/other', upstream: app.url },
              { id: 'ops', pathPrefix: '/ops', upstream: app.url, access: { require: 'admin' } },
            ],
          },
        },
      ],
    });
    base = await broker.listen();
    issuer = broker.config.server.baseUrl;
    keys = broker.container.get<SigningKeys>(TOKENS.SigningKeys);
    userId = (await broker.users.register({ email: 'tok@example.com' }, { actor: 'test' })).userId;
    const out = await broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] });
    sessionId = out.session.sessionId;
    cookie = `broker_session=${out.sessionToken}`;
  });

  afterAll(async () => {
    await broker?.stop();
    await app?.close();
  });

  it('sends the app an internal JWT that verifies against the broker JWKS with the app as audience', async () => {
    const res = await request(`${base}/api/x`, { headers: { cookie } });
    const seen = (await res.body.json()) as { headers: Record<string, string> };
    const jwt = seen.headers['x-access-token'];
    const jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(jwt, jwks, { audience: 'api', issuer });
    expect(payload.sub).toBe(userId);
    expect(payload.exp! - payload.iat!).toBe(60);
    await expect(jwtVerify(jwt, jwks, { audience: 'other' })).rejects.toThrow();
  });

  it('accepts a broker access token for this app and forwards the identity', async () => {
    const r = await call(await accessToken({ sid: sessionId, roles: ['reader'], tenant: 'acme' }));
    expect(r.status).toBe(200);
    const seen = JSON.parse(r.body) as { headers: Record<string, string> };
    expect(seen.headers['x-user-id']).toBe(userId);
    expect(seen.headers['x-user-roles']).toBe('reader');
    expect(seen.headers['x-tenant-id']).toBe('acme');
    expect(seen.headers.authorization).toBeUndefined();
  });

  it('answers a good token that may not enter the app 403 insufficient_scope, a session 403 without a challenge (RFC 6750 §3.1)', async () => {
    const token = await accessToken({ aud: 'ops', sid: sessionId });
    const r = await request(`${base}/ops/x`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.statusCode).toBe(403);
    expect(r.headers['www-authenticate']).toMatch(
      /^Bearer realm="broker", error="insufficient_scope", error_description="You may not open ops."$/,
    );
    expect(r.headers['content-type']).toMatch(/problem\+json/);
    await r.body.dump();
    const s = await request(`${base}/ops/x`, { headers: { cookie } });
    expect(s.statusCode).toBe(403);
    expect(s.headers['www-authenticate']).toBeUndefined();
    await s.body.dump();
  });

  it('refuses a token for another audience, an expired one, one signed by another key, alg none and a wrong typ', async () => {
    expect((await call(await accessToken({ aud: 'other' }))).status).toBe(401);
    const past = Math.floor(Date.now() / 1000) - 1000;
    expect((await call(await accessToken({ iat: past, exp: past + 10 }))).status).toBe(401);
    const { privateKey } = await generateKeyPair('ES256');
    const foreign = await new SignJWT({ sub: userId, aud: 'api', iss: issuer })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: (await keys.jwks()).keys[0].kid })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    expect((await call(foreign)).status).toBe(401);
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: userId, aud: 'api', iss: issuer, exp: 9e9 })).toString('base64url')}.`;
    expect((await call(none)).status).toBe(401);
    const iat = Math.floor(Date.now() / 1000);
    const idToken = await keys.sign({ iss: issuer, sub: userId, aud: 'api', iat, exp: iat + 300 }, { typ: 'JWT' });
    const r = await call(idToken);
    expect(r.status).toBe(401);
    expect(r.www).toMatch(/error="invalid_token"/);
  });

  it('refuses a token once its session ended, and once its user is banned, on the next request', async () => {
    const other = await broker.users.register({ email: 'tok2@example.com' }, { actor: 'test' });
    const out = await broker.login.complete({ issuer: 'local', subject: other.userId, userId: other.userId, amr: ['pwd'] });
    const iat = Math.floor(Date.now() / 1000);
    const t = await keys.sign(
      { iss: issuer, sub: other.userId, aud: 'api', iat, exp: iat + 300, sid: out.session.sessionId },
      { typ: 'at+jwt' },
    );
    expect((await call(t)).status).toBe(200);
    await broker.login.endSession(out.session.sessionId, 'logout', 'test');
    expect((await call(t)).status).toBe(401);

    const noSid = await keys.sign({ iss: issuer, sub: other.userId, aud: 'api', iat, exp: iat + 300 }, { typ: 'at+jwt' });
    expect((await call(noSid)).status).toBe(200);
    const res = await broker.users.execute(other.userId, { type: 'ban', reason: 'abuse', actor: 'admin:t' }, { actor: 'admin:t' });
    await broker.projections.waitFor(res.position);
    expect((await call(noSid)).status).toBe(401);
  });
});
