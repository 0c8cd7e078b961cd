import { Writable } from 'node:stream';
import { pino } from 'pino';
import { brokerLoggerOptions } from '../../adapters/http/logging.js';
import { bootBroker, type Broker, type Plugin } from '../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../adapters/event-stores/memory.js';
import { ManualClock, type EventStore } from '../../core/index.js';
import type { BrokerConfig } from '../../config/types.js';

/** Cheap Argon2 parameters for tests (the defaults cost ~50 ms per hash). */
export const TEST_ARGON2 = { memoryCost: 64, timeCost: 1, parallelism: 1 };

export interface TestBroker {
  broker: Broker;
  url: string;
  clock: ManualClock;
  /** Every log line written so far (JSON objects), for tests that read what the broker printed. */
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Config plugin entries (built-in names or specifiers), loaded in order. */
  plugins?: { name: string; config?: unknown }[];
  /** Plugin objects loaded after the configured ones. */
  extra?: { plugin: Plugin<any>; config?: unknown }[];
  store?: EventStore;
  /** Changes to the base config (shallow per top-level key). */
  config?: Partial<BrokerConfig>;
  /** A clock the test moves; defaults to a ManualClock at the real time now. */
  clock?: ManualClock;
  /** Log level of the broker's (production-configured) logger; default `info`. */
  logLevel?: string;
}

export function testConfig(over: Partial<BrokerConfig> = {}): BrokerConfig {
  return {
    server: { host: '127.0.0.1', port: 0, baseUrl: 'http://127.0.0.1', trustProxy: false, insecureCookies: true },
    dataDir: '/nonexistent',
    store: { kind: 'memory' },
    secrets: { masterKey: 'test-master-key-'.padEnd(48, 'x') },
    session: { absoluteSeconds: 8 * 3600, idleSeconds: 3600 },
    log: { level: 'info' },
    admin: { apiTokens: [] },
    sites: [],
    plugins: [],
    ...over,
  } as BrokerConfig;
}

/** A pino destination that keeps every JSON log line, parsed, in `logs`. */
export function logCollector(): { logs: Record<string, unknown>[]; sink: Writable } {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { logs, sink };
}

/** Starts a broker with the given plugins on 127.0.0.1 (a free port) and returns its base URL. */
export async function startBroker(opts: StartOptions = {}): Promise<TestBroker> {
  const { logs, sink } = logCollector();
  const clock = opts.clock ?? new ManualClock(Date.now());
  const config = testConfig({ plugins: opts.plugins ?? [], ...opts.config });
  const broker = await bootBroker(config, {
    store: opts.store ?? new MemoryEventStore(),
    clock,
    plugins: opts.extra,
    logger: pino(brokerLoggerOptions(opts.logLevel ?? 'info'), sink),
  });
  const listened = await broker.listen();
  const port = new URL(listened).port;
  const url = `http://127.0.0.1:${port}`;
  return { broker, url, clock, logs, stop: () => broker.stop() };
}

/** Polls `cond` until it holds or `timeoutMs` passes (tests never sleep a fixed time). */
export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
