import { describe, it, expect, afterEach } from 'vitest';
import * as jose from 'jose';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import { TOKENS } from '../../../adapters/kernel/tokens.js';
import type { SigningKeys } from '../../../adapters/crypto/signing-keys.js';
import type { BrokerConfig } from '../../../config/types.js';

const config = (): BrokerConfig => ({
  server: { host: '127.0.0.1', port: 0, baseUrl: 'http://127.0.0.1', trustProxy: false, insecureCookies: true },
  dataDir: '/nonexistent',
  store: { kind: 'memory' },
  secrets: { masterKey: 'k'.repeat(32) },
  session: { absoluteSeconds: 3600, idleSeconds: 600 },
  log: { level: 'silent' },
  admin: { apiTokens: [] },
  sites: [],
  plugins: [],
});

describe('JWKS from the kernel', () => {
  const brokers: Broker[] = [];
  afterEach(async () => {
    for (const b of brokers.splice(0)) await b.stop();
  });

  it('binds TOKENS.SigningKeys and serves /.well-known/jwks.json over HTTP; a restart keeps the key', async () => {
    const store = new MemoryEventStore();
    const b = await bootBroker(config(), { store });
    brokers.push(b);
    const url = await b.listen();
    const keys = b.container.get<SigningKeys>(TOKENS.SigningKeys);
    const res = await fetch(`${url}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/jwk-set\+json/);
    const jwks = (await res.json()) as { keys: { kid: string; alg: string; d?: string }[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kid: keys.current().kid, alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0].d).toBeUndefined();
    const token = await keys.sign({ sub: 'x', exp: Math.floor(Date.now() / 1000) + 60 }, { typ: 'secevent+jwt' });
    const remote = jose.createRemoteJWKSet(new URL(`${url}/.well-known/jwks.json`));
    expect((await jose.jwtVerify(token, remote)).payload.sub).toBe('x');

    const kid = keys.current().kid;
    await b.app.close();
    // Second node / restart on the same log and master key: same key, no new event.
    const b2 = await bootBroker(config(), { store });
    brokers.push(b2);
    await b2.ready();
    expect(b2.container.get<SigningKeys>(TOKENS.SigningKeys).current().kid).toBe(kid);
  });
});
