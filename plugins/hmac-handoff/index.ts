import type { Plugin } from '../../plugin/index.js';
import { configSchema, type HandoffPluginConfig } from './config.js';
import { registerOutbound } from './outbound.js';
import { registerInbound } from './inbound.js';
import { Rejections } from './rejections.js';
import { registerRateLimit } from './rate-limit.js';
import './events.js';

/**
 * Signed handoff (seeds 003 and 000): SSO for downstream sites by HMAC-signed redirect, and the
 * inbound handoff from a customer's auth server. See README.md beside this file.
 */
const plugin: Plugin<HandoffPluginConfig> = {
  name: 'hmac-handoff',
  configSchema,
  events: ['HandoffIssued', 'HandoffRejected', 'InboundHandoffIssued', 'InboundHandoffConsumed'],
  // `handoffs-<userId>`, `handoff-rejections`, `handoff-request-<hash>`, `handoff-<jti>`.
  streams: ['handoff-', 'handoffs-'],
  privileges: ['sites'],
  async register(ctx) {
    const rejections = new Rejections(ctx.store, ctx.logger, ctx.clock);
    // Before the routes: the rate limiter attaches to routes as they are declared.
    const limits = await registerRateLimit(ctx);
    registerOutbound(ctx, rejections, limits);
    await registerInbound(ctx, rejections, ctx.keys.derive('handoff-inbound'), limits);
  },
};

export default plugin;
export { verifyHandoff, HandoffVerificationError } from './verify.js';
