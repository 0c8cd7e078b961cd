import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import { type PluginCtx, DomainError } from '../../plugin/index.js';
import type { HandoffPluginConfig, RateLimitConfig } from './config.js';

export interface HandoffRouteLimits {
  /** Route options for the browser routes (/sso, /start, /enter). */
  browser: RouteShorthandOptions;
  /** Route options for the server-to-server POST. */
  server: RouteShorthandOptions;
}

const routeLimit = (c: RateLimitConfig): RouteShorthandOptions => ({
  config: { rateLimit: { max: c.max, timeWindow: c.windowSeconds * 1000 } },
});

/**
 * Per-IP throttling of the plugin's unauthenticated routes, so one address cannot burn CPU (JWE,
 * JWT, HMAC checks) or push refusals at the broker without limit. In memory per node by design: a
 * speed bump per address; the refusal-recording cap (rejections.ts) is what bounds the event log.
 * Answers 429 with Retry-After.
 * Behind a reverse proxy, `server.trustProxy` must be set or every client shares the proxy's address.
 */
export async function registerRateLimit(ctx: PluginCtx<HandoffPluginConfig>): Promise<HandoffRouteLimits> {
  const app: FastifyInstance = ctx.web.app;
  // Over the limit: the same DomainError as the password and admin plugins' limits, which the
  // kernel maps to a 429 (an error page for browsers, problem+json otherwise).
  await app.register(fastifyRateLimit, {
    global: false,
    errorResponseBuilder: (_req, c) =>
      new DomainError('rate_limited', `Too many requests from your address. Try again in ${Math.max(1, Math.ceil(c.ttl / 1000))} seconds.`),
  });
  return { browser: routeLimit(ctx.config.rateLimit.browser), server: routeLimit(ctx.config.rateLimit.server) };
}
