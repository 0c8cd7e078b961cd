import { describe, it, expect } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyHelmet from '@fastify/helmet';
import { securityHeaders } from '../../../adapters/http/security-headers.js';
import { responseHook } from '../../../adapters/http/response-hook.js';

// As the kernel wires them: the step in the per-route response hook.
async function withSecurityHeaders(app: FastifyInstance, opts: typeof options): Promise<void> {
  responseHook([await securityHeaders(app, opts)]).install(app);
}

const options = {
  contentSecurityPolicy: {
    directives: { defaultSrc: ["'none'"], styleSrc: ["'self'"], imgSrc: ["'self'", 'data:'], frameAncestors: ["'none'"] },
  },
  crossOriginResourcePolicy: { policy: 'same-site' as const },
};
const strip = (h: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(h).filter(([k]) => !['date', 'connection', 'keep-alive'].includes(k)));

describe('precomputed security headers', () => {
  it('sends HTML exactly the headers @fastify/helmet sends, JSON the API set; honours helmet: false and skipRoute', async () => {
    const page = '<!doctype html><title>x</title>';
    const reference = Fastify({ logger: false });
    await reference.register(fastifyHelmet, options);
    reference.get('/x', async (_req, reply) => reply.type('text/html; charset=utf-8').send(page));
    const fast = Fastify({ logger: false });
    await withSecurityHeaders(fast, options);
    fast.get('/x', async (_req, reply) => reply.type('text/html; charset=utf-8').send(page));
    fast.get('/json', async () => ({ ok: true }));
    fast.get('/svg', async (_req, reply) => reply.type('image/svg+xml').send('<svg xmlns="http://www.w3.org/2000/svg"/>'));
    fast.get('/bare', { helmet: false }, async () => ({ ok: true }));
    fast.get('/skip', { config: { helmet: { skipRoute: true } } }, async () => ({ ok: true }));
    fast.get('/own-csp', async (_req, reply) => reply.header('content-security-policy', "default-src 'self'").send({ ok: true }));
    const a = await reference.inject({ url: '/x' });
    const b = await fast.inject({ url: '/x' });
    expect(strip(b.headers)).toEqual(strip(a.headers));
    expect(b.headers['content-security-policy']).toContain("default-src 'none'");
    expect(b.headers['referrer-policy']).toBe('no-referrer');
    // An SVG is a document too (it can carry scripts).
    expect(strip((await fast.inject({ url: '/svg' })).headers)).toMatchObject({
      'content-security-policy': a.headers['content-security-policy'],
      'x-frame-options': 'SAMEORIGIN',
    });
    // JSON: the OWASP REST set, nothing that only a rendered document uses.
    const json = await fast.inject({ url: '/json' });
    expect(strip(json.headers)).toEqual({
      'content-type': 'application/json; charset=utf-8',
      'content-length': '11',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      'cross-origin-resource-policy': 'same-site',
      'strict-transport-security': a.headers['strict-transport-security'],
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
    });
    const bare = await fast.inject({ url: '/bare' });
    expect(bare.headers['content-security-policy']).toBeUndefined();
    expect(bare.headers['x-frame-options']).toBeUndefined();
    expect((await fast.inject({ url: '/skip' })).headers['content-security-policy']).toBeUndefined();
    const own = await fast.inject({ url: '/own-csp' });
    expect(own.headers['content-security-policy']).toBe("default-src 'self'"); // the route's own header wins
    expect(own.headers['x-frame-options']).toBe('DENY');
    // 404s get the headers too.
    const nope = await fast.inject({ url: '/nope' });
    expect(nope.headers['x-content-type-options']).toBe('nosniff');
    expect(nope.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
  });

  it('refuses a route-level helmet object instead of ignoring it', async () => {
    const app = Fastify({ logger: false });
    await withSecurityHeaders(app, options);
    expect(() => app.get('/framed', { helmet: { frameguard: { action: 'sameorigin' } } } as never, async () => 'x')).toThrow(
      /route-level helmet options/,
    );
  });
});
