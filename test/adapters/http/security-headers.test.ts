import { describe, it, expect } from 'vitest';
import Fastify from 'fastify';
import fastifyHelmet from '@fastify/helmet';
import { registerSecurityHeaders } from '../../../adapters/http/security-headers.js';

const options = {
  contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], styleSrc: ["'self'"], imgSrc: ["'self'", 'data:'], frameAncestors: ["'none'"] } },
  crossOriginResourcePolicy: { policy: 'same-site' as const },
};
const strip = (h: Record<string, unknown>) => Object.fromEntries(Object.entries(h).filter(([k]) => !['date', 'connection', 'keep-alive'].includes(k)));

describe('precomputed security headers', () => {
  it('sends exactly the headers @fastify/helmet sends, honours helmet: false and skipRoute', async () => {
    const reference = Fastify({ logger: false });
    await reference.register(fastifyHelmet, options);
    reference.get('/x', async () => ({ ok: true }));
    const fast = Fastify({ logger: false });
    await registerSecurityHeaders(fast, options);
    fast.get('/x', async () => ({ ok: true }));
    fast.get('/bare', { helmet: false }, async () => ({ ok: true }));
    fast.get('/skip', { config: { helmet: { skipRoute: true } } }, async () => ({ ok: true }));
    fast.get('/own-csp', async (_req, reply) => reply.header('content-security-policy', "default-src 'self'").send({ ok: true }));
    const a = await reference.inject({ url: '/x' });
    const b = await fast.inject({ url: '/x' });
    expect(strip(b.headers)).toEqual(strip(a.headers));
    expect(b.headers['content-security-policy']).toContain("default-src 'none'");
    const bare = await fast.inject({ url: '/bare' });
    expect(bare.headers['content-security-policy']).toBeUndefined();
    expect(bare.headers['x-frame-options']).toBeUndefined();
    expect((await fast.inject({ url: '/skip' })).headers['content-security-policy']).toBeUndefined();
    const own = await fast.inject({ url: '/own-csp' });
    expect(own.headers['content-security-policy']).toBe("default-src 'self'"); // the route's own header wins
    expect(own.headers['x-frame-options']).toBe('SAMEORIGIN');
    // 404s get the headers too.
    expect((await fast.inject({ url: '/nope' })).headers['x-content-type-options']).toBe('nosniff');
  });

  it('refuses a route-level helmet object instead of ignoring it', async () => {
    const app = Fastify({ logger: false });
    await registerSecurityHeaders(app, options);
    expect(() => app.get('/framed', { helmet: { frameguard: { action: 'sameorigin' } } } as never, async () => 'x')).toThrow(/route-level helmet options/);
  });
});
