import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import type { BrokerConfig, SiteConfig } from '../../../config/types.js';
import type { EventStore, RecordedEvent } from '../../../core/index.js';
import plugin from '../../../plugins/ban-broadcast/index.js';

/** Short timings so the fault table runs in seconds. */
export const fastConfig = {
  timeoutMs: 1000,
  concurrency: 8,
  retry: { initialDelayMs: 30, maxDelayMs: 200, horizonMs: 3000 },
  leaseMs: 1000,
  allowPrivateAddresses: ['127.0.0.1'],
};

export function brokerConfig(sites: SiteConfig[]): BrokerConfig {
  return {
    server: { host: '127.0.0.1', port: 0, baseUrl: 'http://127.0.0.1', trustProxy: false, insecureCookies: true },
    dataDir: '/nonexistent',
    store: { kind: 'memory' },
    secrets: { masterKey: 'k'.repeat(32) },
    session: { absoluteSeconds: 3600, idleSeconds: 600 },
    log: { level: 'silent' },
    admin: { apiTokens: [] },
    sites,
    plugins: [],
  };
}

export async function bootWith(
  sites: SiteConfig[],
  config: Record<string, unknown> = fastConfig,
  store: EventStore = new MemoryEventStore(),
): Promise<Broker> {
  const broker = await bootBroker(brokerConfig(sites), { store, plugins: [{ plugin, config }] });
  await broker.ready();
  return broker;
}

export const site = (id: string, url: string, secret: string, extra: Partial<NonNullable<SiteConfig['webhook']>> = {}): SiteConfig => ({
  id,
  name: id,
  returnUrls: [],
  webhook: { url, secret, ...extra },
});

export async function eventsOf(store: EventStore, type: string): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for (let after = 0; ;) {
    const page = await store.readAll({ after, limit: 1000 });
    if (!page.length) return out;
    for (const e of page) if (e.type === type) out.push(e);
    after = page[page.length - 1].position;
  }
}

/** Registers a user with one linked external identity and bans them. Returns the ban event. */
export async function banSomeone(
  broker: Broker,
  reason = 'spam',
  subject = `sub-${Math.random().toString(36).slice(2)}`,
): Promise<{ userId: string; ban: RecordedEvent }> {
  const { userId } = await broker.users.register({ email: `${Math.random().toString(36).slice(2)}@example.com` }, { actor: 'test' });
  await broker.users.execute(userId, { type: 'linkIdentity', issuer: 'https://idp.example.com', subject }, { actor: 'test' });
  const res = await broker.users.execute(userId, { type: 'ban', reason, actor: 'admin:root' }, { actor: 'admin:root' });
  return { userId, ban: res.events[0] };
}
