import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ResponseStep } from './response-hook.js';
import type {
  ClusterNode,
  EventStore,
  ProjectionEngine,
  ProjectionStatus,
  Projection,
  Quarantine,
  RecordedEvent,
} from '../../core/index.js';

/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4), from a registry small
 * enough to read in one sitting: counters, gauges and histograms with labels. No user data and no
 * secrets in any label: routes are the route pattern (`/users/:id`), never the raw URL, so a
 * scanner probing random paths cannot blow up the number of series either.
 */
type Labels = Record<string, string>;

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelText = (l: Labels) => {
  const keys = Object.keys(l);
  return keys.length ? `{${keys.map((k) => `${k}="${escapeLabel(l[k])}"`).join(',')}}` : '';
};
const num = (n: number) => (Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN');

interface Metric {
  readonly name: string;
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    private readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const v = this.values.get(key);
    if (v) v.value += by;
    else this.values.set(key, { labels, value: by });
  }
  /** The series for these labels, for a caller that counts the same labels again and again. */
  series(labels: Labels): { value: number } {
    const key = labelText(labels);
    let v = this.values.get(key);
    if (!v) this.values.set(key, (v = { labels, value: 0 }));
    return v;
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels))?.value ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const v of this.values.values()) lines.push(`${this.name}${labelText(v.labels)} ${num(v.value)}`);
    return lines.join('\n');
  }
}

/** A gauge whose value is read at scrape time (positions, memory), so it is never stale. */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly read: () => number | Promise<number>,
  ) {}
  private last = 0;
  async collect(): Promise<void> {
    this.last = await this.read();
  }
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${num(this.last)}`].join('\n');
  }
}

/** A gauge (or a counter kept elsewhere) with one series per label set, read at scrape time. */
export class LabelledGauge implements Metric {
  private last: { labels: Labels; value: number }[] = [];
  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly read: () => Promise<{ labels: Labels; value: number }[]>,
    private readonly type: 'gauge' | 'counter' = 'gauge',
  ) {}
  async collect(): Promise<void> {
    this.last = await this.read();
  }
  render(): string {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} ${this.type}`,
      ...this.last.map((s) => `${this.name}${labelText(s.labels)} ${num(s.value)}`),
    ].join('\n');
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly buckets: number[],
  ) {}
  observe(labels: Labels, value: number): void {
    this.observer(labels)(value);
  }
  /** A function recording into the series for these labels, without rebuilding its key each time. */
  observer(labels: Labels): (value: number) => void {
    const key = labelText(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    const series = s;
    const buckets = this.buckets;
    return (value) => {
      for (let i = 0; i < buckets.length; i++) if (value <= buckets[i]) series.counts[i]++;
      series.sum += value;
      series.count++;
    };
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: num(b) })} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${num(s.sum)}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines.join('\n');
  }
}

export class MetricsRegistry {
  private readonly metrics: Metric[] = [];
  add<M extends Metric>(m: M): M {
    if (this.metrics.some((x) => x.name === m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.push(m);
    return m;
  }
  async render(): Promise<string> {
    for (const m of this.metrics) if (m instanceof Gauge || m instanceof LabelledGauge) await m.collect();
    return this.metrics.map((m) => m.render()).join('\n') + '\n';
  }
}

/** Counts the events the projections apply, by type: the log's throughput as this node sees it. */
class EventsCounter implements Projection {
  readonly name = 'metrics.events';
  // A counter of this process's life (Prometheus counters start at 0 with the process).
  readonly replay = 'live' as const;
  checkpoint = 0;
  // One series per event type, bound on first sight: every append pays this, so no label text is
  // built per event.
  private readonly byType = new Map<string, { value: number }>();
  constructor(private readonly counter: Counter) {}
  apply(e: RecordedEvent): void {
    let s = this.byType.get(e.type);
    if (!s) this.byType.set(e.type, (s = this.counter.series({ type: e.type })));
    s.value++;
  }
  reset(): void {}
}

/** Which node holds each reactor's lease, takeovers, and side effects done (or maybe done) twice. */
function registerClusterMetrics(registry: MetricsRegistry, cluster: ClusterNode): void {
  const node = cluster.nodeId;
  registry.add(
    new LabelledGauge(
      'broker_reactor_lease_held',
      "1 while this node (label node, cluster.nodeId) holds the reactor's lease and acts for the cluster; a lease is held only while there is work.",
      async () => cluster.leaseStatus().map((s) => ({ labels: { reactor: s.reactor, node }, value: s.held ? 1 : 0 })),
    ),
  );
  registry.add(
    new LabelledGauge(
      'broker_reactor_lease_acquired_total',
      'Times this node took the lease, by how it found it: free (never held or released) or expired (its holder stopped renewing: a crash, a pause, a cut-off node).',
      async () =>
        cluster.leaseStatus().flatMap((s) => [
          { labels: { reactor: s.reactor, node, found: 'free' }, value: s.takeovers.free },
          { labels: { reactor: s.reactor, node, found: 'expired' }, value: s.takeovers.expired },
        ]),
      'counter',
    ),
  );
  registry.add(
    new LabelledGauge(
      'broker_reactor_duplicates_total',
      'Side effects done twice (kind=concurrent: two nodes recorded the same attempt) or possibly twice (kind=after_expired_takeover: repeated after taking over an expired lease; an upper bound). Duplicates keep their id (webhook-id) so receivers can drop them.',
      async () => cluster.duplicateCounts().map((d) => ({ labels: { reactor: d.reactor, kind: d.kind, node }, value: d.count })),
      'counter',
    ),
  );
}

const kStart = Symbol('broker.requestStart');

/**
 * Stamps a request's arrival on node's request object. The kernel calls it from `genReqId`, which
 * fastify calls once per request before anything else (routes, 404s, framework errors); fastify's
 * own timing (`reply.elapsedTime`) exists only while fastify holds a logger (logging.ts).
 */
export function markRequestStart(raw: object): void {
  (raw as { [kStart]?: number })[kStart] = performance.now();
}

/**
 * Milliseconds since the request was stamped; undefined when it was not (a request id taken from a
 * header, or a scope's own `setGenReqId`, would skip the stamp): such a request is counted but its
 * duration is not observed, rather than observed as 0.
 */
function elapsedMs(req: FastifyRequest): number | undefined {
  const start = (req.raw as { [kStart]?: number })[kStart];
  return start === undefined ? undefined : performance.now() - start;
}

export interface BrokerMetrics {
  registry: MetricsRegistry;
  requests: Counter;
  duration: Histogram;
  /** Counts a response and its duration: a step of the kernel's response hook (response-hook.ts). */
  record: ResponseStep;
}

/**
 * Builds the registry and returns the per-response step, which the kernel runs in its response
 * hook (`/metrics` itself: registerMetricsRoute). A request is counted, with its route pattern and
 * status, when its response is handed to node, and its duration is the time from the request's
 * arrival until then (a hook phase of its own, onResponse, cost more CPU per request than the
 * counting; measured). Event-store and projection figures are read at scrape time.
 */
export function registerMetrics(
  app: FastifyInstance,
  deps: {
    store: EventStore;
    projections: ProjectionEngine;
    cluster: ClusterNode;
    /** Every projection and reactor, and those quarantined (kernel fault isolation). */
    components?: () => { component: string; kind: 'projection' | 'reactor' }[];
    quarantines?: () => Quarantine[];
    sitesConfig?: () => { revision: number; logRevision: number; agreement: string };
  },
): BrokerMetrics {
  const registry = new MetricsRegistry();
  const requests = registry.add(new Counter('broker_http_requests_total', 'HTTP requests answered, by method, route pattern and status.'));
  const duration = registry.add(
    new Histogram(
      'broker_http_request_duration_seconds',
      "Seconds from a request's arrival until its response (its headers, and its body unless streamed) is handed to node, by method, route pattern and status.",
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
  );
  const applied = registry.add(
    new Counter('broker_events_applied_total', 'Events applied by the projections since this process started, by event type.'),
  );
  deps.projections.add(new EventsCounter(applied));
  registry.add(
    new Gauge(
      'broker_event_store_head_position',
      'Global position of the last event appended to the store (rate() of it = events appended per second).',
      () => deps.store.headPosition(),
    ),
  );
  registry.add(new Gauge('broker_projection_position', 'Global position the read models have applied.', () => deps.projections.position));
  registry.add(
    new Gauge('broker_projection_lag_events', 'Events appended but not yet applied by the read models.', async () =>
      Math.max(0, (await deps.store.headPosition()) - deps.projections.position),
    ),
  );
  const perProjection = (pick: (s: ProjectionStatus) => number) => (): Promise<{ labels: Record<string, string>; value: number }[]> =>
    Promise.resolve(deps.projections.status().map((s) => ({ labels: { projection: s.name }, value: pick(s) })));
  registry.add(
    new LabelledGauge(
      'broker_projection_checkpoint',
      'Global position each projection has committed (persisted) or applied (memory).',
      perProjection((s) => s.checkpoint),
    ),
  );
  registry.add(
    new LabelledGauge(
      'broker_projection_rebuilding',
      '1 while a persisted projection rebuilds from the log.',
      perProjection((s) => (s.rebuild ? 1 : 0)),
    ),
  );
  registry.add(
    new LabelledGauge(
      'broker_projection_rebuild_target',
      'Log position a rebuilding projection must reach (0 when not rebuilding).',
      perProjection((s) => s.rebuild?.target ?? 0),
    ),
  );
  registry.add(
    new LabelledGauge(
      'broker_projection_failed_events',
      'Events a projection threw on since this start (each one quarantined it; see projection_quarantine).',
      perProjection((s) => s.failures),
    ),
  );
  if (deps.components && deps.quarantines) {
    const all = deps.components;
    const held = deps.quarantines;
    registry.add(
      new LabelledGauge(
        'broker_component_quarantined',
        '1 while a projection or reactor is stopped on an event it threw on (until broker projections retry <name>); the broker serves on.',
        async () => {
          const q = held();
          return all().map((c) => ({ labels: c, value: q.some((x) => x.component === c.component && x.kind === c.kind) ? 1 : 0 }));
        },
      ),
    );
  }
  registerClusterMetrics(registry, deps.cluster);
  const faults = deps.store.faults;
  if (faults) {
    // Read at scrape time from the store's own counts (networked stores only).
    registry.add(
      new LabelledGauge(
        'broker_event_store_connections_lost_total',
        'Connections to the event store lost (terminated backend, server restart, network), pooled and LISTEN.',
        async () => [{ labels: {}, value: faults.connectionsLost }],
        'counter',
      ),
    );
    registry.add(
      new LabelledGauge(
        'broker_event_store_listener_reconnects_total',
        "Times the event store's LISTEN connection (wake-ups for subscriptions) was re-established.",
        async () => [{ labels: {}, value: faults.listenerReconnects }],
        'counter',
      ),
    );
    registry.add(
      new LabelledGauge(
        'broker_event_store_retries_total',
        'Event store operations run again after a connection error.',
        async () => [{ labels: {}, value: faults.retries }],
        'counter',
      ),
    );
  }
  if (deps.sitesConfig) {
    const sc = deps.sitesConfig;
    registry.add(new Gauge('broker_sites_config_revision', "This node's config sitesRevision.", () => sc().revision));
    registry.add(
      new Gauge(
        'broker_sites_log_revision',
        'Highest sitesRevision the log has applied (a rollout is done when every node reports it as its own).',
        () => sc().logRevision,
      ),
    );
    registry.add(
      new Gauge(
        'broker_sites_config_disagrees',
        "1 while this node's sites config is older than the log's (behind) or differs from it at the same revision (conflict).",
        () => (sc().agreement === 'current' ? 0 : 1),
      ),
    );
  }
  registry.add(
    new Gauge('broker_projection_stalled', '1 while the read database refuses writes (the projections retry; /readyz is 503).', () =>
      deps.projections.stalled ? 1 : 0,
    ),
  );

  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const started = Date.now();
  registry.add(new Gauge('process_resident_memory_bytes', 'Resident set size in bytes.', () => process.memoryUsage.rss()));
  registry.add(new Gauge('nodejs_heap_used_bytes', 'V8 heap used in bytes.', () => process.memoryUsage().heapUsed));
  registry.add(new Gauge('nodejs_heap_total_bytes', 'V8 heap total in bytes.', () => process.memoryUsage().heapTotal));
  registry.add(
    new Gauge('nodejs_eventloop_lag_seconds', 'Mean event loop delay since the last scrape, in seconds.', () => {
      const mean = Number.isNaN(loop.mean) ? 0 : loop.mean / 1e9;
      loop.reset();
      return mean;
    }),
  );
  registry.add(
    new Gauge('nodejs_eventloop_lag_max_seconds', 'Largest event loop delay since the last scrape, in seconds.', () => loop.max / 1e9),
  );
  registry.add(new Gauge('process_uptime_seconds', 'Seconds since the broker process started.', () => process.uptime()));
  registry.add(new Gauge('process_start_time_seconds', 'Start time of the broker, Unix seconds.', () => Math.floor(started / 1000)));

  // Per route, one entry per (method, status) seen: the per-response cost is two map look-ups
  // (method names are interned strings, statuses numbers), not building and escaping label text.
  const record: ResponseStep = (facts) => {
    // The route pattern, never the raw URL (cardinality, and no ids or tokens in labels).
    const route = facts.url ?? '(unmatched)';
    const byMethod = new Map<string, Map<number, { count: { value: number }; observe: (v: number) => void }>>();
    return (req, reply) => {
      let byStatus = byMethod.get(req.method);
      if (!byStatus) byMethod.set(req.method, (byStatus = new Map()));
      let b = byStatus.get(reply.statusCode);
      if (!b) {
        const labels = { method: req.method, route, status: String(reply.statusCode) };
        byStatus.set(reply.statusCode, (b = { count: requests.series(labels), observe: duration.observer(labels) }));
      }
      b.count.value++;
      const ms = elapsedMs(req);
      if (ms !== undefined) b.observe(ms / 1000);
    };
  };
  app.addHook('onClose', async () => loop.disable());
  return { registry, requests, duration, record };
}

/** `GET /metrics`. Registered apart, after the kernel's response hook, so the scrape is counted too. */
export function registerMetricsRoute(app: FastifyInstance, metrics: BrokerMetrics): void {
  app.get('/metrics', async (_req, reply) => {
    reply.header('cache-control', 'no-store');
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(await metrics.registry.render());
  });
}
