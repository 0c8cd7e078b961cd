import type { Plugin } from '../../plugin/index.js';
import { TOKENS } from '../../adapters/kernel/tokens.js';
import './events.js';
import { AddressGuard } from './address-guard.js';
import { BanBroadcaster } from './broadcaster.js';
import { DeliveriesView } from './deliveries-view.js';
import { HttpSender } from './http-sender.js';
import { registerAdminPage } from './admin-page.js';
import { banConsoleSource } from './console-source.js';
import type { SetSigner } from './set-token.js';

export interface BanBroadcastConfig {
  /** Whole-request timeout per attempt (connect, headers and body). */
  timeoutMs: number;
  /** Deliveries in flight at once, across all bans and sites. */
  concurrency: number;
  retry: { initialDelayMs: number; maxDelayMs: number; horizonMs: number };
  /**
   * How long a node holds the sending lease without renewing; after a crash another node takes over
   * after at most this long (a graceful stop hands it over at once). Shorter: faster takeover, but a
   * GC pause or network blip longer than a fifth of it lets a second node send too (duplicates).
   */
  leaseMs: number;
  /** IPs or CIDRs a webhook URL may resolve to although private or loopback (SSRF defence is on otherwise). */
  allowPrivateAddresses: string[];
  adminPath: string;
  /** On the plugin's first start, also broadcast bans already in the log (default: only new ones). */
  backfill: boolean;
}

const plugin: Plugin<BanBroadcastConfig> = {
  name: 'ban-broadcast',
  events: [
    'BanBroadcastQueued',
    'BanNotificationRequeued',
    'BanNotificationDelivered',
    'BanNotificationFailed',
    'BanNotificationAbandoned',
    'WebhookEndpointDisabled',
  ],
  streams: ['broadcast-', 'delivery-', 'webhook-endpoint-'],
  // Sites' webhook URLs and secrets; the broker's keys sign the Security Event Tokens.
  privileges: ['sites', 'signing'],
  configSchema: {
    type: 'object',
    properties: {
      timeoutMs: { type: 'integer', minimum: 10, default: 10_000 },
      concurrency: { type: 'integer', minimum: 1, maximum: 1000, default: 32 },
      retry: {
        type: 'object',
        properties: {
          initialDelayMs: { type: 'integer', minimum: 1, default: 5_000 },
          maxDelayMs: { type: 'integer', minimum: 1, default: 3_600_000 },
          horizonMs: { type: 'integer', minimum: 0, default: 3 * 86_400_000 },
        },
        additionalProperties: false,
        default: {},
      },
      leaseMs: { type: 'integer', minimum: 100, default: 15_000 },
      allowPrivateAddresses: { type: 'array', items: { type: 'string', pattern: '^[0-9a-fA-F.:]+(/\\d{1,3})?$' }, default: [] },
      adminPath: { type: 'string', pattern: '^/', default: '/admin/bans' },
      backfill: { type: 'boolean', default: false },
    },
    additionalProperties: false,
  },
  register(ctx) {
    const c = ctx.config;
    const view = new DeliveriesView();
    ctx.add.projection(view);
    const sites = ctx.services.get(TOKENS.Sites);
    const sender = new HttpSender(new AddressGuard(c.allowPrivateAddresses), c.timeoutMs);
    // Resolved at send time: the key ring is bound by the kernel, but a broker without it still sends Standard Webhooks.
    const signer = (): SetSigner | null => ctx.services.optional(TOKENS.SigningKeys);
    const broadcaster = new BanBroadcaster(
      {
        store: ctx.store,
        reactorState: ctx.reactorState,
        sites: ctx.read.sites,
        webhookOf: (id) => sites.get(id)?.webhook,
        view,
        sender,
        clock: ctx.clock,
        logger: ctx.logger,
        issuer: ctx.baseUrl,
        cluster: ctx.cluster,
        signer,
      },
      { concurrency: c.concurrency, retry: c.retry, leaseMs: c.leaseMs, drainMs: c.timeoutMs + 1000, backfill: c.backfill },
    );
    ctx.add.reactor(broadcaster);
    ctx.services.provide(TOKENS.ConsoleSource, banConsoleSource(view, ctx.store, ctx.projections));
    registerAdminPage(ctx.web, c.adminPath, { read: ctx.read, view, store: ctx.store });
  },
};

export default plugin;
export { DeliveriesView } from './deliveries-view.js';
export { requeueDelivery } from './requeue.js';
