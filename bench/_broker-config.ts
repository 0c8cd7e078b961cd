// The broker configuration every benchmark's servers start from: plain http on 127.0.0.1 (dev mode
// cookies), an in-memory log, logging at `silent` (as the bare fastify apps they are compared with,
// which have no logger), sessions of an hour.
import type { BrokerConfig } from '../config/types.js';

export function benchBrokerConfig(sites: BrokerConfig['sites'] = []): BrokerConfig {
  return {
    server: { host: '127.0.0.1', port: 0, baseUrl: 'http://127.0.0.1', trustProxy: false, insecureCookies: true },
    dataDir: '/nonexistent',
    store: { kind: 'memory' },
    secrets: { masterKey: 'b'.repeat(32) },
    session: { absoluteSeconds: 3600, idleSeconds: 3600 },
    log: { level: 'silent' },
    admin: { apiTokens: [] },
    sites,
    plugins: [],
  };
}
