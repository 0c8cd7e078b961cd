import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Broker } from '../../../adapters/kernel/boot.js';
import { Counter, Histogram, MetricsRegistry } from '../../../adapters/http/metrics.js';
import { bootProbe, testConfig } from './broker-fixture.js';
import { bootBroker, type Plugin } from '../../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';

// One sample line of the text exposition format: name, optional labels, a number.
const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$/;

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  if (!line) throw new Error(`no series ${series} in\n${text}`);
  return Number(line.slice(series.length + 1));
}

describe('/metrics', () => {
  let broker: Broker;
  beforeAll(async () => ({ broker } = await bootProbe()));
  afterAll(async () => broker.stop());

  it('serves the Prometheus text format with request, event and process metrics', async () => {
    await broker.app.inject({ url: '/healthz' });
    await broker.app.inject({ url: '/healthz' });
    await broker.app.inject({ url: '/random/probe/path-123' });
    await broker.app.inject({ method: 'POST', url: '/probe/echo', payload: { n: 'x' } });
    const { position } = await broker.users.register({ email: 'm@example.com' }, { actor: 'test' });
    await broker.projections.waitFor(position);

    const r = await broker.app.inject({ url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = r.body;
    for (const line of text.trimEnd().split('\n')) {
      if (line.startsWith('#')) expect(line).toMatch(/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/);
      else expect(line).toMatch(SAMPLE);
    }
    expect(value(text, 'broker_http_requests_total{method="GET",route="/healthz",status="200"}')).toBe(2);
    expect(value(text, 'broker_http_requests_total{method="POST",route="/probe/echo",status="400"}')).toBe(1);
    // Unmatched paths share one series: a scanner cannot create series, and raw URLs never become labels.
    expect(value(text, 'broker_http_requests_total{method="GET",route="(unmatched)",status="404"}')).toBe(1);
    expect(text).not.toContain('path-123');
    expect(value(text, 'broker_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}')).toBe(2);
    expect(value(text, 'broker_http_request_duration_seconds_bucket{method="GET",route="/healthz",status="200",le="+Inf"}')).toBe(2);

    const head = await broker.store.headPosition();
    expect(head).toBeGreaterThanOrEqual(position);
    expect(value(text, 'broker_event_store_head_position')).toBe(head);
    expect(value(text, 'broker_projection_position')).toBe(head);
    expect(value(text, 'broker_projection_lag_events')).toBe(0);
    expect(value(text, 'broker_events_applied_total{type="UserRegistered"}')).toBe(1);
    expect(value(text, 'process_resident_memory_bytes')).toBeGreaterThan(1e6);
    expect(value(text, 'nodejs_heap_used_bytes')).toBeGreaterThan(0);
    expect(value(text, 'process_uptime_seconds')).toBeGreaterThan(0);
    expect(value(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('counts every response once: HEAD twins, routes without security headers, 404s and the scrape itself', async () => {
    await broker.app.inject({ method: 'HEAD', url: '/healthz' });
    const jwks = await broker.app.inject({ url: '/.well-known/jwks.json' });
    expect(jwks.headers['content-security-policy']).toBeUndefined(); // helmet: false
    const missing = await broker.app.inject({ url: '/no/such/route', headers: { accept: 'application/json' } });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(missing.headers['x-content-type-options']).toBe('nosniff');
    const first = (await broker.app.inject({ url: '/metrics' })).body;
    const text = (await broker.app.inject({ url: '/metrics' })).body;
    expect(value(text, 'broker_http_requests_total{method="HEAD",route="/healthz",status="200"}')).toBe(1);
    expect(value(text, 'broker_http_requests_total{method="GET",route="/.well-known/jwks.json",status="200"}')).toBe(1);
    expect(value(text, 'broker_http_requests_total{method="GET",route="/metrics",status="200"}')).toBe(
      value(first, 'broker_http_requests_total{method="GET",route="/metrics",status="200"}') + 1,
    );
  });

  it('shows projection lag when appends outrun the read models', async () => {
    // Append behind the projections' back by stopping them first.
    broker.projections.stop();
    await broker.store.append('user-lag-test', [{ type: 'UserRegistered', data: { userId: 'lag-test', email: null, name: null } }]);
    const text = (await broker.app.inject({ url: '/metrics' })).body;
    expect(value(text, 'broker_projection_lag_events')).toBe(1);
  });

  it("gives a plugin scope's own 404s and reply.callNotFound() the API headers and counts them as unmatched", async () => {
    const scoped: Plugin = {
      name: 'scoped-404',
      async register(ctx) {
        await ctx.web.app.register(
          async (s) => {
            s.get('/x', async () => ({ x: 1 }));
            s.get('/gone', async (_req, reply) => reply.callNotFound());
            s.setNotFoundHandler((req, reply) =>
              ctx.web.sendError(req, reply, Object.assign(new Error('nope'), { statusCode: 404, code: 'not_found' })),
            );
          },
          { prefix: '/api' },
        );
      },
    };
    const b = await bootBroker(testConfig(), { store: new MemoryEventStore(), plugins: [{ plugin: scoped }] });
    await b.ready();
    try {
      for (const url of ['/api/missing', '/api/gone', '/missing']) {
        const r = await b.app.inject({ url, headers: { accept: 'application/json' } });
        expect(r.statusCode).toBe(404);
        expect(r.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
        expect(r.headers['x-content-type-options']).toBe('nosniff');
      }
      const ok = await b.app.inject({ url: '/api/x' });
      expect(ok.headers['x-frame-options']).toBe('DENY');
      const text = (await b.app.inject({ url: '/metrics' })).body;
      expect(value(text, 'broker_http_requests_total{method="GET",route="(unmatched)",status="404"}')).toBe(3);
      expect(value(text, 'broker_http_requests_total{method="GET",route="/api/x",status="200"}')).toBe(1);
    } finally {
      await b.stop();
    }
  });

  it('registry: counters, histograms and label escaping', async () => {
    const reg = new MetricsRegistry();
    const c = reg.add(new Counter('t_total', 'help'));
    const h = reg.add(new Histogram('t_seconds', 'help', [0.1, 1]));
    c.inc({ path: 'a"b\\c\nd' }, 2);
    h.observe({}, 0.05);
    h.observe({}, 0.5);
    h.observe({}, 5);
    const text = await reg.render();
    expect(text).toContain('t_total{path="a\\"b\\\\c\\nd"} 2');
    expect(text).toContain(
      't_seconds_bucket{le="0.1"} 1\nt_seconds_bucket{le="1"} 2\nt_seconds_bucket{le="+Inf"} 3\nt_seconds_sum 5.55\nt_seconds_count 3',
    );
    expect(() => reg.add(new Counter('t_total', 'again'))).toThrow(/registered twice/);
  });
});
