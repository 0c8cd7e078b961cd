/**
 * The cluster drill of issue 17, in small: three broker processes on one PostgreSQL log, three
 * webhook receivers (one failing for a while), bans from every node, the node holding the
 * ban-broadcast lease killed -9 while it has work, and rounds of pg_terminate_backend on the
 * nodes' connections during writes. Then: every ban acknowledged by every receiver (signatures
 * checked with the standardwebhooks package), nothing acknowledged lost, `broker audit verify`
 * clean on the PostgreSQL log, and /readyz never flapping on any node at steady load.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PG_URL, dropSchema, freshSchema, openPg, pgUnavailable } from '../event-stores/pg-fixture.js';
import { startReceiver, secretFor, until, type Receiver } from '../../plugins/ban-broadcast/receivers.js';
import { eventsOf } from '../../plugins/ban-broadcast/setup.js';
import { startNode, type BrokerNode } from './cluster.js';

const unavailable = await pgUnavailable();
const ROOT = path.resolve(__dirname, '../../..');
const LEASE_MS = 2000;

describe.skipIf(unavailable !== null)('cluster drill: three nodes, one PostgreSQL', () => {
  const schema = freshSchema();
  const nodes: BrokerNode[] = [];
  const receivers: Receiver[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drill-'));
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(receivers.map((r) => r.close()));
    await dropSchema(schema);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(
    'bans from every node reach every site through a kill -9 and terminated connections; the log verifies; readiness holds',
    { timeout: 120_000 },
    async () => {
      // Receiver 1 answers 503 until the test lets it recover: its deliveries keep the holder busy.
      let failing = true;
      receivers.push(await startReceiver(secretFor(0)));
      receivers.push(await startReceiver(secretFor(1), (_n, _req, res) => void res.writeHead(failing ? 503 : 200).end()));
      receivers.push(await startReceiver(secretFor(2)));
      const sites = receivers.map((r, i) => ({ id: `site-${i}`, url: r.url, secret: secretFor(i) }));
      for (const name of ['node-a', 'node-b', 'node-c'])
        nodes.push(await startNode(name, PG_URL, schema, 'drill-node.ts', { sites, leaseMs: LEASE_MS }));
      const urls = new Map<BrokerNode, string>();
      for (const n of nodes) urls.set(n, (await n.call<{ url: string }>('url')).url);
      const alive = new Set(nodes);

      // Readiness probes every 50 ms on every live node, labelled by phase.
      let phase = 'steady';
      const probes: { node: string; phase: string; status: number }[] = [];
      let probing = true;
      const prober = (async () => {
        while (probing) {
          await Promise.all(
            [...alive].map(async (n) => {
              const status = await fetch(`${urls.get(n)}/readyz`).then(
                (r) => r.status,
                () => 0,
              );
              if (alive.has(n)) probes.push({ node: n.name, phase, status });
            }),
          );
          await new Promise((r) => setTimeout(r, 50));
        }
      })();

      const acked: { eventId: string; userId: string }[] = [];
      let seq = 0;
      const banRound = (from: BrokerNode[], each: number) =>
        Promise.all(
          from.map(async (n) => {
            for (let i = 0; i < each; i++)
              acked.push(await n.call<{ eventId: string; userId: string }>('ban', { email: `drill-${seq++}@example.com` }));
          }),
        );

      // 1. Steady load: bans from every node.
      await banRound(nodes, 6);
      phase = 'faults';

      // 2. Kill -9 the node holding the lease while it still has work (receiver 1 keeps failing).
      const metrics = async (n: BrokerNode) => (await fetch(`${urls.get(n)}/metrics`)).text();
      const holderOf = async () => {
        for (const n of alive) if (/broker_reactor_lease_held\{[^}]*reactor="ban-broadcast"[^}]*\} 1/.test(await metrics(n))) return n;
        return undefined;
      };
      await until(async () => (await holderOf()) !== undefined, 10_000, 'a lease holder');
      const holder = (await holderOf())!;
      alive.delete(holder);
      holder.child.kill('SIGKILL');

      // 3. Bans from the survivors while their PostgreSQL connections are terminated, three rounds.
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      const survivors = [...alive];
      const writes = banRound(survivors, 6);
      let terminated = 0;
      for (let round = 0; round < 3; round++) {
        await new Promise((r) => setTimeout(r, 150));
        const r = await admin.query(
          'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name LIKE $1 AND pid <> pg_backend_pid()',
          [`%${schema}%`],
        );
        terminated += (r.rows[0] as { n: number }).n;
      }
      await admin.end();
      await writes;
      expect(terminated).toBeGreaterThan(0);

      // 4. Receiver 1 recovers; every ban reaches every site, once the lease moved on.
      failing = false;
      for (const [i, r] of receivers.entries()) {
        await until(
          () => acked.every((b) => r.acked.some((d) => d.body.includes(b.userId))),
          60_000,
          `every ban acknowledged by site-${i}`,
        );
        expect(
          r.received.every((d) => d.verified === true),
          `site-${i} signatures`,
        ).toBe(true);
      }
      probing = false;
      await prober;

      // Nothing acknowledged lost: each ban a node answered for is in the log.
      const store = await openPg(schema);
      try {
        const bans = new Set((await eventsOf(store, 'UserBanned')).map((e) => e.id));
        expect(acked.filter((b) => !bans.has(b.eventId))).toEqual([]);
        expect(acked.length).toBe(6 * 3 + 6 * 2);
        expect(await eventsOf(store, 'BanNotificationAbandoned')).toEqual([]);
      } finally {
        await store.close();
      }

      // audit verify, as an operator runs it, on the PostgreSQL log.
      const config = path.join(dir, 'broker.yaml');
      fs.writeFileSync(
        config,
        [
          `dataDir: ${JSON.stringify(dir)}`,
          `store: { kind: postgres, url: ${JSON.stringify(PG_URL)}, schema: ${schema} }`,
          `secrets: { masterKey: cluster-drill-master-key-0123456789abc }`,
          'plugins: [{ name: ban-broadcast }]',
          '',
        ].join('\n'),
      );
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', './adapters/cli/ts-register.mjs', 'adapters/cli/main.ts', 'audit', 'verify', '--json', '--config', config],
        { cwd: ROOT },
      );
      expect(JSON.parse(stdout)).toMatchObject({ breaks: 0, unknown: 0, firstBreak: null });

      // Readiness at steady load: every probe of every node answered 200.
      const steady = probes.filter((p) => p.phase === 'steady');
      expect(steady.length).toBeGreaterThan(3);
      expect(steady.filter((p) => p.status !== 200)).toEqual([]);
    },
  );
});
