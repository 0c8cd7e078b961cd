import { createHmac } from 'node:crypto';
import { fetch } from 'undici';
import type { Clock } from '../../../core/index.js';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import type { BrokerConfig, SiteConfig } from '../../../config/types.js';
import plugin from '../../../plugins/hmac-handoff/index.js';
import type { HandoffPluginConfig, InboundServerConfig } from '../../../plugins/hmac-handoff/config.js';

export const BASE = 'http://broker.test';
export const CRM_SECRET = 'crm-shared-secret-0123456789abcdef';
export const SITE_A_KEYS = [
  { kid: 'a-2026', secret: 'site-a-secret-new-0123456789' },
  { kid: 'a-2025', secret: 'site-a-secret-old-0123456789' },
];
export const SITE_B_KEYS = [{ kid: 'b1', secret: 'site-b-secret-0123456789abcd' }];
export const LEGACY_KEYS = [{ kid: 'legacy', secret: 'legacy-preshared-key-xyz' }];

export function sites(extra: { aReturn?: string } = {}): SiteConfig[] {
  return [
    {
      id: 'site-a',
      name: 'Site A',
      returnUrls: [extra.aReturn ?? 'https://site-a.test/callback'],
      handoff: { keys: SITE_A_KEYS, fields: ['email', 'name'] },
    },
    {
      id: 'site-b',
      name: 'Site B',
      returnUrls: ['https://site-b.test/cb'],
      handoff: { version: 'v2', keys: SITE_B_KEYS, fields: ['email'], ttlSeconds: 30 },
    },
    {
      id: 'legacy',
      name: 'Legacy',
      returnUrls: ['https://legacy.test/sso'],
      handoff: { version: 'v1', keys: LEGACY_KEYS, fields: ['email', 'name'] },
    },
    { id: 'nohandoff', name: 'Webhook only', returnUrls: ['https://x.test/'] },
  ];
}

export function config(siteList: SiteConfig[]): BrokerConfig {
  return {
    server: { host: '127.0.0.1', port: 0, baseUrl: BASE, trustProxy: false, insecureCookies: true },
    dataDir: '/nonexistent',
    store: { kind: 'memory' },
    secrets: { masterKey: 'm'.repeat(32) },
    session: { absoluteSeconds: 3600, idleSeconds: 600 },
    log: { level: 'silent' },
    admin: { apiTokens: [] },
    sites: siteList,
    plugins: [],
  };
}

export const crmServer: InboundServerConfig = {
  id: 'crm',
  name: 'Customer CRM',
  secret: CRM_SECRET,
  provisioning: { policy: 'auto' },
  returnTargets: ['/welcome', 'https://app.customer.test/home'],
  loginUrl: 'https://crm.customer.test/login',
};

export interface Running {
  broker: Broker;
  url: string;
}

export async function start(
  siteList: SiteConfig[] = sites(),
  pluginConfig: Partial<HandoffPluginConfig> = {},
  clock?: Clock,
): Promise<Running> {
  const broker = await bootBroker(config(siteList), {
    store: new MemoryEventStore(),
    clock,
    plugins: [{ plugin, config: { servers: [crmServer], ...pluginConfig } }],
  });
  const url = await broker.listen();
  return { broker, url };
}

/** What a customer auth server does: POST the user, signed with the shared secret. */
export async function postInbound(url: string, body: unknown, opts: { secret?: string; ts?: number; server?: string; raw?: string } = {}) {
  const raw = opts.raw ?? JSON.stringify(body);
  const ts = String(opts.ts ?? Math.floor(Date.now() / 1000));
  const sig = createHmac('sha256', opts.secret ?? CRM_SECRET)
    .update(`${ts}.${raw}`)
    .digest('hex');
  const res = await fetch(`${url}/handoff/${opts.server ?? 'crm'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-handoff-timestamp': ts, 'x-handoff-signature': sig },
    body: raw,
  });
  return { status: res.status, type: res.headers.get('content-type'), json: (await res.json()) as Record<string, unknown> };
}

/** Events of one type in the log, for assertions on what was recorded. */
export async function eventsOf(broker: Broker, type: string): Promise<Record<string, unknown>[]> {
  return (await broker.store.readAll({ limit: 100_000 })).filter((e) => e.type === type).map((e) => e.data as Record<string, unknown>);
}

/** Waits for a condition with a bound (never a fixed sleep). */
export async function until<T>(fn: () => Promise<T | undefined> | T | undefined, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A browser with a broker session, logged in through the inbound handoff. */
export async function loggedIn(
  r: Running,
  sub = 'ext-1',
  email = 'ada@customer.test',
): Promise<{ browser: import('./browser.js').Browser; userId: string }> {
  const { Browser } = await import('./browser.js');
  const browser = new Browser({ [BASE]: r.url });
  const handed = await postInbound(r.url, { sub, email, name: 'Ada', return_to: '/welcome' });
  const out = await browser.follow(String(handed.json.url), [BASE]);
  if (!out.url.endsWith('/welcome')) throw new Error(`login did not land on /welcome: ${out.url}`);
  const userId = await r.broker.users.findByIdentity('handoff:crm', sub);
  return { browser, userId: userId! };
}

export const NONCE = 'n0nce-of-the-site-0123';
export const ssoUrl = (siteId: string, returnTo: string, nonce: string | null = NONCE): string =>
  `${BASE}/sso/${siteId}?return_to=${encodeURIComponent(returnTo)}${nonce === null ? '' : `&nonce=${nonce}`}`;
