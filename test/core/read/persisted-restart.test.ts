import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { describe, it, expect, afterEach } from 'vitest';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { brokerLoggerOptions } from '../../../adapters/http/logging.js';
import { ManualClock } from '../../../core/index.js';
import type { DeliveriesView } from '../../../plugins/ban-broadcast/deliveries-view.js';
import { client } from '../../helpers/cookie-jar.js';
import { logCollector, testConfig, TEST_ARGON2, waitUntil } from '../../helpers/broker.js';
import { passwordStep, register } from '../../plugins/password-login/flows.js';
import { secretFor, startReceiver, type Receiver } from '../../plugins/ban-broadcast/receivers.js';

const PW = 'correct horse battery';

interface Node {
  broker: Broker;
  url: string;
  logs: Record<string, unknown>[];
}

/** A broker on real files in `dir` (SQLite log `broker.db`, read models `broker.read.db`), as in production. */
async function bootOnFiles(dir: string, clock: ManualClock, receiver: Receiver, maxFailures: number): Promise<Node> {
  const { logs, sink } = logCollector();
  const config = testConfig({
    dataDir: dir,
    store: { kind: 'sqlite', path: path.join(dir, 'broker.db'), synchronous: 'NORMAL' },
    sites: [{ id: 'site0', name: 'site0', returnUrls: [], webhook: { url: receiver.url, secret: secretFor(0) } }],
    plugins: [
      {
        name: 'password-login',
        config: { argon2: TEST_ARGON2, selfRegistration: true, lockout: { maxFailures, windowSeconds: 600, lockSeconds: 600 } },
      },
      { name: 'example' },
      { name: 'ban-broadcast', config: { timeoutMs: 1000, leaseMs: 1000, allowPrivateAddresses: ['127.0.0.1'] } },
    ],
  });
  const broker = await bootBroker(config, { clock, logger: pino(brokerLoggerOptions('info'), sink) });
  const listened = await broker.listen();
  return { broker, url: `http://127.0.0.1:${new URL(listened).port}`, logs };
}

const resumedFrom = (n: Node): number => n.logs.find((l) => l.msg === 'projections resume')!.from as number;
const rebuilt = (n: Node): unknown[] =>
  n.logs.filter((l) => l.msg === 'projection rebuilds from the log').map((l) => [l.projection, l.reason]);
const deliveries = (n: Node): DeliveriesView => n.broker.projections.get<DeliveriesView>('ban-broadcast.deliveries')!;

describe('plugin read models across a restart on the same data dir', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it(
    'resume from their checkpoints with their rows (no replay from 0), and a view whose version changed is rebuilt from the log',
    { timeout: 60_000 },
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'persisted-restart-'));
      cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
      const receiver = await startReceiver(secretFor(0));
      cleanup.push(() => receiver.close());
      const clock = new ManualClock(Date.now());
      const start = async (maxFailures: number): Promise<Node> => {
        const n = await bootOnFiles(dir, clock, receiver, maxFailures);
        cleanup.push(() => n.broker.stop());
        return n;
      };

      // First life: a login (the example's count), three wrong passwords (the lockout), a delivered ban.
      const a = await start(3);
      expect(a.broker.projections.db!.location).toBe(path.join(dir, 'broker.read.db'));
      expect((await register(client(a.url), 'fay@example.com', PW)).res.status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await passwordStep(client(a.url), 'fay@example.com', 'wrong-password')).res.status).toBe(401);
      const userId = a.broker.read.users.findByEmail('fay@example.com')!.userId;
      await a.broker.users.execute(userId, { type: 'ban', reason: 'spam', actor: 'admin:root' }, { actor: 'admin:root' });
      await waitUntil(() => deliveries(a).list(userId)[0]?.sites.get('site0')?.status === 'delivered', 10_000, 'the ban delivered');
      const perDay = (await (await fetch(`${a.url}/example/logins-per-day`)).json()) as { days: Record<string, number> };
      expect(Object.values(perDay.days)).toEqual([1]);
      const head = await a.broker.store.headPosition();
      await a.broker.stop();

      // Second life, same files: the projections start after the last event the first life applied,
      // and the plugin views answer from their rows.
      const b = await start(3);
      expect(resumedFrom(b)).toBeGreaterThanOrEqual(head);
      expect(rebuilt(b)).toEqual([]);
      for (const name of ['password-login.lockout', 'example.logins-per-day', 'ban-broadcast.deliveries'])
        expect(b.broker.projections.checkpointOf(name)).toBeGreaterThanOrEqual(head);
      expect(b.broker.projections.applied).toBeLessThan(head);
      expect((await passwordStep(client(b.url), 'fay@example.com', PW)).res.status).toBe(429); // still locked
      expect(((await (await fetch(`${b.url}/example/logins-per-day`)).json()) as { days: unknown }).days).toEqual(perDay.days);
      expect(
        deliveries(b)
          .list(userId)
          .map((x) => x.sites.get('site0')?.status),
      ).toEqual(['delivered']);
      expect(deliveries(b).unfinished()).toEqual([]);
      expect(receiver.received).toHaveLength(1); // not sent again
      await b.broker.stop();

      // Third life with maxFailures 4: the lockout's version changed, so it alone is rebuilt from the
      // log: the three old failures count again, and one more locks the name.
      const c = await start(4);
      expect(rebuilt(c)).toEqual([['password-login.lockout', 'version changed']]);
      expect(resumedFrom(c)).toBe(0);
      expect((await passwordStep(client(c.url), 'fay@example.com', 'wrong-password')).res.status).toBe(401); // 4th: not locked before it
      expect((await passwordStep(client(c.url), 'fay@example.com', PW)).res.status).toBe(429);
      expect(((await (await fetch(`${c.url}/example/logins-per-day`)).json()) as { days: unknown }).days).toEqual(perDay.days);
      expect(
        deliveries(c)
          .list(userId)
          .map((x) => x.sites.get('site0')?.status),
      ).toEqual(['delivered']);
    },
  );
});
