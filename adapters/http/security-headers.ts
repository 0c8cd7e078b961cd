import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyHelmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import type { ResponseStep } from './response-hook.js';

/**
 * Security headers, by what the response is.
 *
 * - **Documents** (`text/html`, `application/xhtml+xml`, `image/svg+xml`: what a browser renders
 *   and runs scripts in) get helmet's whole set, exactly as @fastify/helmet sends it for `options`.
 * - **Everything else** (JSON, problem+json, plain text, XML metadata, 204s) gets the set the OWASP
 *   REST Security Cheat Sheet gives for API responses: `Content-Security-Policy: default-src 'none';
 *   frame-ancestors 'none'`, `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
 *   `Strict-Transport-Security`, plus `Cross-Origin-Resource-Policy` (no cross-site no-cors reads).
 *   The rest of helmet's set (COOP, Origin-Agent-Cluster, Referrer-Policy, X-DNS-Prefetch-Control,
 *   X-Download-Options, X-Permitted-Cross-Domain-Policies, X-XSS-Protection) only has an effect on
 *   a rendered document. A non-document is never rendered, and if a browser is ever made to render
 *   one, `default-src 'none'` lets nothing in it run or load.
 *
 * Why split: bytes on the wire are most of the cost of a header here. Sending helmet's ~700 bytes
 * on every JSON answer cost ~5-7 µs of server CPU per request (measured, see
 * docs/architecture-decisions.md), on the session checks and API calls downstream traffic pays.
 *
 * Both sets are computed once at boot (@fastify/helmet itself rebuilds them on every request and
 * decorates each reply with fresh closures, ~35-40 µs a request here). They are added in onSend,
 * when the content type is known, to the reply's headers; a header the route set itself wins.
 * The step runs in the kernel's response hook (response-hook.ts: bound to each route when it is
 * registered).
 *
 * Route options keep their meaning: `{ helmet: false }` or `config: { helmet: { skipRoute: true } }`
 * sends none. A route-level helmet *object* is refused at registration (nothing uses one; set the
 * header in the handler instead), rather than silently ignored.
 *
 * Returns the step for the kernel's response hook, and adds the onRoute hook that turns
 * `{ helmet: false }` into `config.helmet.skipRoute` (install the response hook after this).
 */
export async function securityHeaders(app: FastifyInstance, options: FastifyHelmetOptions): Promise<ResponseStep> {
  const document = await helmetHeaders(options);
  const api: [string, string][] = [
    ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
    ['cross-origin-resource-policy', document.get('cross-origin-resource-policy') ?? 'same-origin'],
    ['x-content-type-options', 'nosniff'],
    ['x-frame-options', 'DENY'],
  ];
  const hsts = document.get('strict-transport-security');
  if (hsts) api.push(['strict-transport-security', hsts]);
  const documentEntries = [...document];

  app.addHook('onRoute', (route) => {
    const opt = (route as { helmet?: unknown }).helmet;
    if (opt === false) route.config = { ...(route.config ?? {}), helmet: { skipRoute: true } } as typeof route.config;
    else if (opt !== undefined)
      throw new Error(
        `route ${route.method} ${route.url}: route-level helmet options are not supported (use helmet: false and set headers in the handler)`,
      );
  });
  const add = (_req: FastifyRequest, reply: FastifyReply): void => {
    const set = isDocument(reply.getHeader('content-type')) ? documentEntries : api;
    // Into fastify's own header object, not onto the raw response: a header set on the raw
    // response sends node's writeHead down its slow path, which re-validates every header of the
    // reply one by one (measured). A header the route set itself is left as it is.
    for (const [k, v] of set) if (reply.getHeader(k) === undefined) reply.header(k, v);
  };
  return (route) => ((route.config as { helmet?: { skipRoute?: boolean } } | undefined)?.helmet?.skipRoute ? null : add);
}

const DOCUMENT_TYPES = /^\s*(text\/html|application\/xhtml\+xml|image\/svg\+xml)\b/i;
function isDocument(contentType: unknown): boolean {
  return typeof contentType === 'string' && DOCUMENT_TYPES.test(contentType);
}

/** The headers @fastify/helmet sends with these options, read off a throwaway instance (same bytes). */
async function helmetHeaders(options: FastifyHelmetOptions): Promise<Map<string, string>> {
  const probe = Fastify({ logger: false });
  await probe.register(fastifyHelmet, options);
  probe.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(''));
  const res = await probe.inject({ url: '/' });
  await probe.close();
  const skip = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);
  const headers = new Map<string, string>();
  for (const [k, v] of Object.entries(res.headers)) if (!skip.has(k) && typeof v === 'string') headers.set(k, v);
  return headers;
}
