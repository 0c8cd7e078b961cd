import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { fetch } from 'undici';
import { BASE, postInbound, ssoUrl, start, type Running } from './setup.js';

const A_RETURN = 'https://site-a.test/callback';
const local = (r: Running, url: string): string => url.replace(BASE, r.url);

describe('hmac-handoff per-IP rate limits', () => {
  let r: Running;
  beforeAll(async () => {
    r = await start(undefined, { rateLimit: { browser: { max: 3, windowSeconds: 60 }, server: { max: 2, windowSeconds: 60 } } });
  });
  afterAll(async () => r.broker.stop());

  it('answers /sso/<site> with a 429 page (and Retry-After) once an address goes over the limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(local(r, ssoUrl('site-a', A_RETURN)), { redirect: 'manual', headers: { accept: 'text/html' } });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    expect(statuses).toEqual([303, 303, 303]);
    // Even a request that would be refused anyway (unknown site) is throttled first: no refusal is recorded for it.
    // A browser asks for HTML and gets the error page (the kernel's usual choice by Accept).
    const over = await fetch(local(r, ssoUrl('no-such-site', A_RETURN)), { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(over.status).toBe(429);
    expect(over.headers.get('content-type')).toContain('text/html');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await over.text()).toContain('Too many requests');
    expect((await r.broker.store.readAll({ limit: 100_000 })).some((e) => e.type === 'HandoffRejected')).toBe(false);
  });

  it('answers the inbound POST with a 429 problem+json once an address goes over the limit, even when correctly signed', async () => {
    const body = (n: number) => ({ sub: `rl-${n}`, email: `rl${n}@customer.test`, return_to: '/welcome' });
    expect((await postInbound(r.url, body(1))).status).toBe(201);
    expect((await postInbound(r.url, body(2))).status).toBe(201);
    const over = await postInbound(r.url, body(3));
    expect(over.status).toBe(429);
    expect(over.type).toContain('application/problem+json');
    expect(over.json).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(await r.broker.users.findByIdentity('handoff:crm', 'rl-3')).toBeNull();
    // Each route counts on its own: the browser enter route is still open with the POST over its limit.
    const enter = await fetch(`${r.url}/handoff/crm/enter?token=junk`, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(enter.status).toBe(400);
    await enter.body?.cancel();
  });
});

describe('hmac-handoff rate limit configuration', () => {
  it('defaults to 120 browser and 600 server requests per IP per minute', async () => {
    const r = await start();
    try {
      const statuses = new Set<number>();
      for (let i = 0; i < 10; i++) {
        const res = await fetch(local(r, ssoUrl('site-a', A_RETURN)), { redirect: 'manual' });
        statuses.add(res.status);
        expect(res.headers.get('x-ratelimit-limit')).toBe('120');
        await res.body?.cancel();
      }
      expect([...statuses]).toEqual([303]);
      const posted = await fetch(`${r.url}/handoff/crm`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(posted.headers.get('x-ratelimit-limit')).toBe('600');
      await posted.body?.cancel();
    } finally {
      await r.broker.stop();
    }
  });

  it('fails the boot on a limit that is not a positive integer, naming the path', async () => {
    await expect(
      start(undefined, { rateLimit: { browser: { max: 0, windowSeconds: 60 }, server: { max: 10, windowSeconds: 60 } } }),
    ).rejects.toThrow(/rateLimit\.browser\.max/);
  });
});
