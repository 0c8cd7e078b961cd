import net from 'node:net';
import { bootBroker, type Broker, type Plugin } from '../../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import type { BrokerConfig } from '../../../config/types.js';
import type { Clock, RecordedEvent } from '../../../core/index.js';

/** A port that was free a moment ago: the broker's base URL must be known before it boots. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A downstream protocol for tests: resuming shows who is logged in. */
export const resumePlugin: Plugin = {
  name: 'test-resume',
  register(ctx) {
    ctx.add.downstreamProtocol({
      name: 'test',
      async resume(req, s) {
        return {
          kind: 'html',
          html: `<p id="resumed">user=${s.userId} roles=${s.roles.join(',')} tenant=${s.tenant ?? ''} state=${req.params.state ?? ''}</p>`,
        };
      },
    });
  },
};

export async function startBroker(
  plugins: { name: string; config: unknown }[],
  extra: { plugin: Plugin<any>; config?: unknown }[] = [],
  port?: number,
  options: { clock?: Clock; insecureCookies?: boolean } = {},
): Promise<{ broker: Broker; url: string }> {
  port ??= await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config: BrokerConfig = {
    server: { host: '127.0.0.1', port, baseUrl: url, trustProxy: false, insecureCookies: options.insecureCookies ?? true },
    dataDir: '/nonexistent',
    store: { kind: 'memory' },
    secrets: { masterKey: 'f'.repeat(64) },
    session: { absoluteSeconds: 3600, idleSeconds: 600 },
    log: { level: 'silent' },
    admin: { apiTokens: [] },
    sites: [],
    plugins,
  };
  const broker = await bootBroker(config, {
    store: new MemoryEventStore(),
    clock: options.clock,
    plugins: [{ plugin: resumePlugin }, ...extra],
  });
  await broker.listen();
  return { broker, url };
}

export function loginRequest(broker: Broker, state = 's1'): string {
  return broker.login.requests.encode({ protocol: 'test', params: { state } }, broker.clock.now(), `j${Math.random()}`);
}

export async function events(broker: Broker, type: string): Promise<RecordedEvent[]> {
  const all = await broker.store.readAll({ after: 0, limit: 100000 });
  return all.filter((e) => e.type === type);
}

/** Waits on a condition with a bound (never a fixed sleep). */
export async function until<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
