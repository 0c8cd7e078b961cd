import { describe, it, expect, afterEach } from 'vitest';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import type { BrokerConfig } from '../../../config/types.js';
import { LoginService } from '../../../core/index.js';

const baseConfig = (): BrokerConfig => ({
  server: { host: '127.0.0.1', port: 0, baseUrl: 'http://127.0.0.1', trustProxy: false, insecureCookies: true },
  dataDir: '/nonexistent',
  store: { kind: 'memory' },
  secrets: { masterKey: 'x'.repeat(32) },
  session: { absoluteSeconds: 3600, idleSeconds: 600 },
  log: { level: 'silent' },
  admin: { apiTokens: [] },
  sites: [],
  plugins: [{ name: 'example' }],
});

describe('kernel boot', () => {
  let broker: Broker | undefined;
  afterEach(async () => broker?.stop());

  it('answers /healthz and serves a plugin route fed by its projection', async () => {
    broker = await bootBroker(baseConfig(), { store: new MemoryEventStore() });
    await broker.ready();
    const h = await broker.app.inject({ url: '/healthz' });
    expect(h.json()).toEqual({ status: 'ok' });
    const { userId } = await broker.users.register({ email: 'a@example.com', name: 'A' }, { actor: 'test' });
    const out = await broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] });
    expect(broker.login.validateSession(out.sessionToken)?.userId).toBe(userId);
    const r = await broker.app.inject({ url: '/example/logins-per-day' });
    expect(Object.values(r.json().days)).toEqual([1]);
  });

  it('ends the sessions of a user the moment the ban is applied and refuses the next login', async () => {
    broker = await bootBroker(baseConfig(), { store: new MemoryEventStore() });
    await broker.ready();
    const { userId } = await broker.users.register({ email: 'b@example.com' }, { actor: 'test' });
    const out = await broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] });
    const res = await broker.users.execute(userId, { type: 'ban', reason: 'spam', actor: 'admin:x' }, { actor: 'admin:x' });
    await broker.projections.waitFor(res.position);
    expect(broker.login.validateSession(out.sessionToken)).toBeNull();
    await expect(broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] })).rejects.toMatchObject({
      code: 'banned',
    });
  });

  it('remembers the session id of a live token only, and forgets it when the session ends, is banned or the cache is full', async () => {
    broker = await bootBroker(baseConfig(), { store: new MemoryEventStore() });
    await broker.ready();
    const cache = (broker.login as unknown as { idByToken: Map<string, string> }).idByToken;
    const { userId } = await broker.users.register({ email: 'c@example.com' }, { actor: 'test' });
    const a = await broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] });
    const b = await broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] });

    // Forged and unknown tokens never get in.
    for (let i = 0; i < 100; i++) expect(broker.login.validateSession(`forged-${i}-${'x'.repeat(30)}`)).toBeNull();
    expect(cache.size).toBe(0);

    expect(broker.login.validateSession(a.sessionToken)?.sessionId).toBe(a.session.sessionId);
    expect(broker.login.validateSession(a.sessionToken)?.sessionId).toBe(a.session.sessionId); // from the cache
    expect(cache.get(a.sessionToken)).toBe(a.session.sessionId);

    // Logout: the remembered token answers null at once and leaves the cache.
    await broker.login.endSession(a.session.sessionId, 'logout', `user:${userId}`);
    expect(broker.login.validateSession(a.sessionToken)).toBeNull();
    expect(cache.has(a.sessionToken)).toBe(false);

    // A ban: the cached token is refused (the user's status is read on every check).
    expect(broker.login.validateSession(b.sessionToken)?.userId).toBe(userId);
    const ban = await broker.users.execute(userId, { type: 'ban', reason: 'spam', actor: 'admin:x' }, { actor: 'admin:x' });
    await broker.projections.waitFor(ban.position);
    expect(broker.login.validateSession(b.sessionToken)).toBeNull();

    // Bounded: at the cap it starts afresh.
    for (let i = cache.size; i < LoginService.TOKEN_CACHE_MAX; i++) cache.set(`t${i}`, `s${i}`);
    const { userId: other } = await broker.users.register({ email: 'd@example.com' }, { actor: 'test' });
    const c = await broker.login.complete({ issuer: 'local', subject: other, userId: other, amr: ['pwd'] });
    expect(broker.login.validateSession(c.sessionToken)?.userId).toBe(other);
    expect(cache.size).toBe(1);
  });

  it('names the bad path of a plugin config', async () => {
    const cfg = baseConfig();
    cfg.plugins = [{ name: 'example', config: { path: 'no-slash' } }];
    await expect(bootBroker(cfg, { store: new MemoryEventStore() })).rejects.toThrow(/plugins\[0\]\.config\.path: must match pattern/);
  });
});
