import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Broker } from '../../../adapters/kernel/boot.js';
import { redactQuery, requestIds } from '../../../adapters/http/logging.js';
import { bootProbe, type LogCapture } from './broker-fixture.js';

describe('HTTP hardening', () => {
  let broker: Broker;
  let logs: LogCapture;
  beforeAll(async () => ({ broker, logs } = await bootProbe()));
  afterAll(async () => broker.stop());

  it('sends pages the full security headers: CSP with frame-ancestors none, nosniff, no referrer leak', async () => {
    const r = await broker.app.inject({ url: '/no/such/page', headers: { accept: 'text/html' } });
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['referrer-policy']).toBe('no-referrer');
    expect(r.headers['strict-transport-security']).toBeDefined();
  });

  it('sends JSON answers the API set: nothing may load or frame, nosniff, HSTS', async () => {
    const r = await broker.app.inject({ url: '/healthz' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['strict-transport-security']).toBeDefined();
    expect(r.headers['referrer-policy']).toBeUndefined();
  });

  it('answers a schema validation error with problem+json naming the field', async () => {
    const r = await broker.app.inject({ method: 'POST', url: '/probe/echo', payload: { n: 'seven' } });
    expect(r.statusCode).toBe(400);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(r.json()).toMatchObject({ type: 'urn:broker:error:invalid_input', status: 400, code: 'invalid_input', title: 'Bad request' });
    expect(r.json().detail).toMatch(/body\/n must be integer/);
  });

  it('answers an unknown route with problem+json 404', async () => {
    const r = await broker.app.inject({ url: '/no/such/thing?x=1' });
    expect(r.statusCode).toBe(404);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(r.json()).toMatchObject({ status: 404, code: 'not_found', title: 'Not found', detail: 'no route GET /no/such/thing' });
  });

  it('shows a browser an HTML error page instead', async () => {
    const r = await broker.app.inject({ url: '/no/such/thing', headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(r.statusCode).toBe(404);
    expect(r.body).toContain('Not found');
    expect(r.body).not.toContain('Bad request');
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    expect(r.body).toContain('<h1>Not found</h1>');
    expect(r.body).not.toContain('Bad request');
    expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  });

  // /logout never reads its body, but the parser still runs on it: a bad body must not crash it either.
  it.each([
    ['truncated JSON', '{"n": 1', 'application/json', ['/probe/echo', '/logout']],
    ['not JSON at all', 'n=1', 'application/json', ['/probe/echo', '/logout']],
    ['a JSON string where an object is expected', '"hello"', 'application/json', ['/probe/echo']],
    ['an empty JSON body', '', 'application/json', ['/probe/echo', '/logout']],
    ['an unsupported content type', '<n>1</n>', 'application/xml', ['/probe/echo', '/logout']],
  ])('answers %s with a 4xx problem, never a 500', async (_name, payload, type, urls) => {
    for (const url of urls) {
      const r = await broker.app.inject({ method: 'POST', url, payload, headers: { 'content-type': type } });
      expect(r.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(r.statusCode, url).toBeLessThan(500);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('refuses an oversized body with 413, not 500', async () => {
    const r = await broker.app.inject({
      method: 'POST',
      url: '/probe/echo',
      payload: JSON.stringify({ n: 1, pad: 'x'.repeat(300 * 1024) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(r.statusCode).toBe(413);
  });

  it('hides an unexpected error behind a generic 500 problem', async () => {
    const r = await broker.app.inject({ url: '/probe/boom' });
    expect(r.statusCode).toBe(500);
    expect(r.body).not.toContain('internal detail');
    expect(r.body).not.toMatch(/at .*\.ts:\d+/);
  });

  it('never logs cookies, authorization headers, passwords or query-string tokens', async () => {
    const secrets = { cookie: 'COOKIE-S3CRET-1', auth: 'AUTH-S3CRET-2', password: 'PASSWORD-S3CRET-3', query: 'QUERY-S3CRET-4' };
    const r = await broker.app.inject({
      method: 'POST',
      url: `/probe/echo?code=${secrets.query}&state=abc`,
      headers: {
        cookie: `__Host-broker_session=${secrets.cookie}`,
        authorization: `Bearer ${secrets.auth}`,
        'content-type': 'application/json',
      },
      payload: { n: 3, password: secrets.password },
    });
    expect(r.statusCode).toBe(200);
    await broker.app.inject({
      url: `/login?lr=${secrets.query}`,
      headers: { cookie: `sid=${secrets.cookie}`, authorization: `Basic ${secrets.auth}` },
    });
    const text = logs.text;
    expect(text).toContain('probe echo'); // the careless log line was written...
    expect(text).toContain('/probe/echo?code=[redacted]&state=[redacted]');
    for (const s of Object.values(secrets)) expect(text).not.toContain(s); // ...without a secret in it
    expect(text).toContain('[redacted]');
    // The request's lines (fastify's and the handler's) share one reqId: the lazily built child logger is pino's own.
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { reqId?: string; msg?: string });
    const echo = lines.find((l) => l.msg === 'probe echo')!;
    expect(echo.reqId).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    expect(lines.filter((l) => l.reqId === echo.reqId).map((l) => l.msg)).toEqual(['incoming request', 'probe echo', 'request completed']);
  });

  it('gives requests ids unique within a process and across processes', () => {
    const a = requestIds();
    const b = requestIds();
    const fromA = Array.from({ length: 1000 }, a);
    expect(new Set(fromA).size).toBe(1000);
    for (const id of fromA) expect(id).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    expect(fromA[0].split('-')[0]).not.toBe(b().split('-')[0]);
  });

  it('keeps query keys but drops their values', () => {
    expect(redactQuery('/cb?code=abc&state=x&flag')).toBe('/cb?code=[redacted]&state=[redacted]&flag=[redacted]');
    expect(redactQuery('/plain')).toBe('/plain');
  });
});

// Above `info` fastify holds no logger (logging.ts requestLogging): the broker's logger must still
// be every request's `req.log` and every scope's `app.log`, redaction and request ids included, and
// request metrics must still time requests.
describe('logging above info (fastify without a logger of its own)', () => {
  let broker: Broker;
  let logs: LogCapture;
  beforeAll(async () => ({ broker, logs } = await bootProbe('warn')));
  afterAll(async () => broker.stop());

  it("writes the request's and the scope's warnings, errors with their request id, and no request lines", async () => {
    const url = await broker.listen();
    const ok = await fetch(`${url}/probe/warn`);
    expect(ok.status).toBe(200);
    const boom = await fetch(`${url}/probe/boom`);
    expect(boom.status).toBe(500);
    const lines = logs.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { reqId?: string; msg?: string; level: number; password?: string; err?: { message?: string } });
    const warn = lines.find((l) => l.msg === 'probe warn')!;
    expect(warn.reqId).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    expect(warn.password).toBe('[redacted]');
    expect(lines.some((l) => l.msg === 'probe scope warn' && l.level === 40)).toBe(true);
    const error = lines.find((l) => l.msg === 'unhandled error')!;
    expect(error.reqId).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    expect(error.reqId).not.toBe(warn.reqId);
    expect(error.err?.message).toBe('internal detail that must not reach a client');
    expect(lines.filter((l) => l.msg === 'incoming request' || l.msg === 'request completed')).toEqual([]);
  });

  it("leaves node's response without fastify's per-request listeners (it has them at info)", async () => {
    const atWarn = (await broker.app.inject({ url: '/probe/listeners' })).json();
    const info = await bootProbe('info');
    try {
      const atInfo = (await info.broker.app.inject({ url: '/probe/listeners' })).json();
      expect(atInfo.error).toBeGreaterThan(atWarn.error);
      expect(atInfo.finish).toBeGreaterThan(atWarn.finish);
    } finally {
      await info.broker.stop();
    }
  });

  it("writes a line in fastify's shape as fastify would, even from a logger without the broker's serializers", async () => {
    const plain = await bootProbe('warn', true);
    try {
      const r = await plain.broker.app.inject({ url: '/probe/shape', headers: { cookie: 'sid=COOKIE-S3CRET-5' } });
      expect(r.statusCode).toBe(200);
      const line = JSON.parse(
        plain.logs.text
          .trim()
          .split('\n')
          .find((l) => l.includes('probe shape'))!,
      ) as { req: Record<string, unknown>; res: Record<string, unknown> };
      expect(line.res).toEqual({ statusCode: 200 });
      expect(line.req).toMatchObject({ method: 'GET', url: '/probe/shape' });
      expect(plain.logs.text).not.toContain('COOKIE-S3CRET-5');
    } finally {
      await plain.broker.stop();
    }
  });

  it('times requests for the duration histogram without fastify timing them', async () => {
    for (let i = 0; i < 3; i++) expect((await broker.app.inject({ url: '/probe/warn' })).statusCode).toBe(200);
    const text = (await broker.app.inject({ url: '/metrics' })).body;
    const sum = /broker_http_request_duration_seconds_sum\{method="GET",route="\/probe\/warn",status="200"\} (\S+)/.exec(text);
    const count = /broker_http_request_duration_seconds_count\{method="GET",route="\/probe\/warn",status="200"\} (\S+)/.exec(text);
    expect(Number(count?.[1])).toBeGreaterThanOrEqual(3);
    expect(Number(sum?.[1])).toBeGreaterThan(0);
  });
});
