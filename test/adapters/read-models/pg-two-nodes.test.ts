/**
 * Issue 15: persisted read models over the PostgreSQL event store. Two broker nodes, each with its
 * own store instance (its own pool and LISTEN connection) and its own read database file, append to
 * the same streams at once. A ban written through A is refused by B within 200 ms; the writing node
 * reads its own writes; a restarted node resumes from its checkpoints; each node's rows equal a
 * fresh rebuild of the log. Skipped when PostgreSQL is unreachable, unless BROKER_REQUIRE_EXTERNAL=1.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { brokerLoggerOptions } from '../../../adapters/http/logging.js';
import { logCollector, testConfig } from '../../helpers/broker.js';
import { PG_URL, dropSchema, freshSchema, openPg, pgUnavailable } from '../event-stores/pg-fixture.js';
import { CORE_PROJECTIONS, dumpFile, freshDump } from './read-fixture.js';
import { openedStore } from '../../helpers/opened-store.js';

const unavailable = await pgUnavailable();

describe.skipIf(unavailable !== null)('persisted read models on PostgreSQL, two nodes', () => {
  const schema = freshSchema();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'read-pg-'));
  const nodes: Record<'A' | 'B', { broker: Broker; logs: Record<string, unknown>[] } | null> = { A: null, B: null };

  async function boot(name: 'A' | 'B'): Promise<{ broker: Broker; logs: Record<string, unknown>[] }> {
    const config = testConfig({ dataDir: path.join(root, name), store: { kind: 'postgres', url: PG_URL, schema, poolMax: 5 } });
    const { logs, sink } = logCollector();
    const broker = await bootBroker(config, { logger: pino(brokerLoggerOptions('info'), sink) });
    await broker.ready();
    nodes[name] = { broker, logs };
    return nodes[name]!;
  }
  const A = (): Broker => nodes.A!.broker;
  const B = (): Broker => nodes.B!.broker;

  beforeAll(async () => {
    await boot('A'); // creates and migrates the schema
    await boot('B');
  }, 60_000);
  afterAll(async () => {
    for (const n of Object.values(nodes)) await n?.broker.stop();
    await dropSchema(schema);
    fs.rmSync(root, { recursive: true, force: true });
  });

  /** Every core table of the node's read database file equals a fresh rebuild of the log. */
  async function expectEqualToFreshRebuild(name: 'A' | 'B'): Promise<void> {
    const store = await openPg(schema);
    try {
      const fresh = await freshDump(openedStore(store, { masterKey: A().config.secrets.masterKey ?? undefined }));
      const { tables, checkpoints, failures } = dumpFile(path.join(root, name, 'read.db'));
      for (const p of CORE_PROJECTIONS)
        expect(checkpoints[p], `${name} ${p}`).toMatchObject({ position: fresh.head, rebuild_reason: null });
      for (const [t, rows] of Object.entries(fresh.tables)) expect(tables[t], `${name} ${t}`).toEqual(rows);
      expect(failures).toEqual([]);
    } finally {
      await store.close();
    }
  }

  const meta = (n: string) => ({ actor: `test:${n}` });

  it('each node has its own read database file', () => {
    expect(A().projections.db!.location).toBe(path.join(root, 'A', 'read.db'));
    expect(B().projections.db!.location).toBe(path.join(root, 'B', 'read.db'));
  });

  it('both nodes write the same streams at once; each reads its own writes; both end with the same rows', { timeout: 30_000 }, async () => {
    const users = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? A() : B()).users.register({ email: `same-${i}-${schema}@example.com` }, meta('reg'))),
    );
    await Promise.all([A(), B()].map(async (n) => n.projections.waitFor(await n.store.headPosition())));
    const ryw: string[] = [];
    await Promise.all(
      users.flatMap(({ userId }, i) => [
        // The same user stream from both nodes at once (optimistic concurrency retries the loser).
        A().users.execute(userId, { type: 'updateProfile', name: `from A ${i}` }, meta('A')),
        B().users.execute(userId, { type: 'assignRoles', roles: [`r${i}`], source: 'test' }, meta('B')),
        B().users.execute(userId, { type: 'linkIdentity', issuer: 'https://idp.example', subject: `pg-${i}` }, meta('B')),
        // A login returns once its node's rows hold the session: usable at once on that node.
        ...[A(), B()].map(async (n) => {
          const out = await n.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] } as never);
          if (n.login.validateSession(out.sessionToken) === null) ryw.push(`${userId} on ${n === A() ? 'A' : 'B'}`);
        }),
      ]),
    );
    expect(ryw, 'sessions the writing node did not see right after the login returned').toEqual([]);
    const head = await A().store.headPosition();
    await Promise.all([A().projections.waitFor(head), B().projections.waitFor(head)]);
    for (const { userId } of users) {
      for (const n of [A(), B()]) {
        const u = n.read.users.get(userId)!;
        expect(u.name).toMatch(/^from A /);
        expect(u.roles).toHaveLength(1);
        expect(u.identities).toHaveLength(1);
        expect(n.read.sessions.forUser(userId)).toHaveLength(2);
      }
    }
    const a = dumpFile(path.join(root, 'A', 'read.db')).tables;
    const b = dumpFile(path.join(root, 'B', 'read.db')).tables;
    expect(b).toEqual(a);
  });

  it('a ban written through A is refused by B within 200 ms', { timeout: 30_000 }, async () => {
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { userId, position } = await B().users.register({ email: `ban-${i}-${schema}@example.com` }, meta('B'));
      await A().projections.waitFor(position);
      const { sessionToken } = await B().login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] } as never);
      expect(B().login.validateSession(sessionToken)).not.toBeNull();
      // B is checked every event-loop turn from the moment A is asked to ban.
      const t0 = performance.now();
      const refused = new Promise<number>((resolve, reject) => {
        const check = (): void => {
          if (B().login.validateSession(sessionToken) === null) return resolve(performance.now() - t0);
          if (performance.now() - t0 > 5000) return reject(new Error('B still accepts the session after 5 s'));
          setImmediate(check);
        };
        check();
      });
      const ban = await A().users.execute(userId, { type: 'ban', reason: 'pg test', actor: 'admin:A' }, meta('A'));
      await A().projections.waitFor(ban.position);
      expect(A().read.bans.isBanned(userId), 'A reads its own ban').toBe(true);
      latencies.push(await refused);
      expect(B().read.bans.isBanned(userId)).toBe(true);
    }
    console.info(`ban through A -> refused on B: ${latencies.map((l) => l.toFixed(1)).join(', ')} ms`);
    expect(Math.max(...latencies)).toBeLessThan(200);
  });

  it('B restarted resumes from its checkpoints; both nodes then equal a fresh rebuild', { timeout: 30_000 }, async () => {
    const before = B().projections.checkpointOf('users');
    expect(before).toBeGreaterThan(0);
    await B().stop();
    nodes.B = null;
    // A goes on writing while B is down.
    for (let i = 0; i < 10; i++) await A().users.register({ email: `while-down-${i}-${schema}@example.com` }, meta('A'));
    const b = await boot('B');
    const resume = b.logs.find((l) => l.msg === 'projections resume') as { from: number } | undefined;
    expect(resume?.from, 'the subscription started after the checkpoints').toBe(before);
    expect(b.logs.filter((l) => l.msg === 'projection rebuilds from the log')).toEqual([]);
    const head = await A().store.headPosition();
    await Promise.all([A().projections.waitFor(head), B().projections.waitFor(head)]);
    await expectEqualToFreshRebuild('A');
    await expectEqualToFreshRebuild('B');
  });
});
