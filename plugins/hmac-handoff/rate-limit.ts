import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import type { PluginCtx } from '../../adapters/kernel/boot.js';
import { sendProblem } from '../../adapters/http/errors.js';
import type { HandoffPluginConfig, RateLimitConfig } from './config.js';

/** Thrown by @fastify/rate-limit for a request over its route's per-IP limit. */
export class HandoffRateLimited extends Error {
  readonly statusCode = 429;
  constructor(readonly retryAfterSeconds: number) {
    super('rate limited');
  }
}

export interface HandoffRouteLimits {
  /** Route options for the browser routes (/sso, /start, /enter). */
  browser: RouteShorthandOptions;
  /** Route options for the server-to-server POST. */
  server: RouteShorthandOptions;
}

const routeLimit = (c: RateLimitConfig): RouteShorthandOptions => ({ config: { rateLimit: { max: c.max, timeWindow: c.windowSeconds * 1000 } } });

/**
 * Per-IP throttling of the plugin's unauthenticated routes, so one address cannot burn CPU (JWE,
 * JWT, HMAC checks) or push refusals at the broker without limit. In memory per node by design: a
 * speed bump per address; the refusal-recording cap (rejections.ts) is what bounds the event log.
 * Answers 429 with Retry-After: an HTML page on the browser routes, problem+json on the POST.
 * Behind a reverse proxy, `server.trustProxy` must be set or every client shares the proxy's address.
 */
export async function registerRateLimit(ctx: PluginCtx<HandoffPluginConfig>): Promise<HandoffRouteLimits> {
  const app: FastifyInstance = ctx.web.app;
  await app.register(fastifyRateLimit, {
    global: false,
    errorResponseBuilder: (_req, c) => new HandoffRateLimited(Math.max(1, Math.ceil(c.ttl / 1000))),
  });
  // Scoped to this plugin: everything but a throttled request goes to the broker's usual mapping.
  app.setErrorHandler((err, req, reply) => {
    if (!(err instanceof HandoffRateLimited)) return ctx.web.sendError(req, reply, err);
    const detail = `Too many requests from your address. Try again in ${err.retryAfterSeconds} seconds.`;
    if (req.method === 'POST') return sendProblem(reply, 429, 'rate_limited', 'Too many requests', detail);
    return ctx.web.errorPage(reply, 429, 'Too many requests', detail);
  });
  return { browser: routeLimit(ctx.config.rateLimit.browser), server: routeLimit(ctx.config.rateLimit.server) };
}
