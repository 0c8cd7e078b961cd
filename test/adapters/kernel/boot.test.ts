import { describe, it, expect, afterEach } from 'vitest';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import type { BrokerConfig } from '../../../config/types.js';

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
    await expect(broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] })).rejects.toMatchObject({ code: 'banned' });
  });

  it('names the bad path of a plugin config', async () => {
    const cfg = baseConfig();
    cfg.plugins = [{ name: 'example', config: { path: 'no-slash' } }];
    await expect(bootBroker(cfg, { store: new MemoryEventStore() })).rejects.toThrow(/plugins\[0\]\.config\.path: must match pattern/);
  });
});
