/**
 * The operator's drill of issue 17, in small: three broker processes on one PostgreSQL log, three
 * webhook receivers (one failing for a while), bans from every node, `pg_terminate_backend` rounds
 * during writes, and a kill -9 of the node holding the broadcast lease. Then: every ban in the log
 * delivered to every receiver, every acknowledged ban in the log, `broker audit verify` clean on the
 * PostgreSQL log, and /readyz at 200 on every probe while the load was steady.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { PG_URL, dropSchema, freshSchema, openPg, pgUnavailable } from '../event-stores/pg-fixture.js';
import { secretFor, startReceiver, until, type Receiver } from '../../plugins/ban-broadcast/receivers.js';
import type { EventStore, RecordedEvent } from '../../../core/index.js';
import { runCli } from '../cli/run-cli.js';
import { startNode, type BrokerNode } from './cluster.js';

const unavailable = await pgUnavailable();
const LEASE_MS = 2000;

type Ban = { banEventId: string };

/**
 * The UserBanned events up to `head`. A PostgreSQL readAll stops before any transaction still open
 * in the database (the survivors keep writing), so a short page is not the end: read on to `head`.
 */
async function bansUpTo(store: EventStore, head: number): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  let after = 0;
  await until(async () => {
    for (let page = await store.readAll({ after, limit: 1000 }); page.length; page = await store.readAll({ after, limit: 1000 })) {
      for (const e of page) if (e.type === 'UserBanned') out.push(e);
      after = page[page.length - 1].position;
    }
    return after >= head;
  }, 10_000, `the log read up to ${head}`);
  return out;
}

describe.skipIf(unavailable !== null)('cluster drill: three nodes, faults, one PostgreSQL log', () => {
  const schema = freshSchema();
  const nodes: BrokerNode[] = [];
  const receivers: Receiver[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drill-'));
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
    for (const r of receivers) await r.close();
    fs.rmSync(dir, { recursive: true, force: true });
    await dropSchema(schema);
  });

  it('delivers every ban everywhere, loses nothing acknowledged, verifies clean and stays ready at steady load', { timeout: 120_000 }, async () => {
    const t0 = Date.now();
    const mark = (what: string) => console.info(`drill +${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
    let failing = true;
    for (let i = 0; i < 3; i++) {
      // Receiver 2 answers 503 until the drill says it is back (retried by whichever node holds the lease).
      receivers.push(await startReceiver(secretFor(i), (_n, _req, res) => void res.writeHead(i === 2 && failing ? 503 : 200).end()));
    }
    const broadcast = { sites: receivers.map((r, i) => ({ id: `site${i}`, url: r.url, secret: secretFor(i) })), leaseMs: LEASE_MS, sitesRevision: 1 };
    // All at once (concurrent opens migrate the schema once: tested in the store's own tests).
    nodes.push(...(await Promise.all(['node-a', 'node-b', 'node-c'].map((n) => startNode(n, PG_URL, schema, broadcast)))));
    mark('three nodes started');
    const urls = new Map<BrokerNode, string>();
    for (const n of nodes) urls.set(n, (await n.call<{ url: string }>('status')).url);

    const acked: string[] = [];
    let seq = 0;
    const bansFrom = async (n: BrokerNode, count: number): Promise<void> => {
      for (let i = 0; i < count; i++) acked.push((await n.call<Ban>('banNew', { email: `drill-${seq++}-${schema}@example.com` })).banEventId);
    };

    // Steady load: bans from every node (two callers each), /readyz probed on every node meanwhile.
    const probes: { node: string; status: number }[] = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        await Promise.all(nodes.map(async (n) => probes.push({ node: n.name, status: (await fetch(`${urls.get(n)}/readyz`)).status })));
        await new Promise((r) => setTimeout(r, 50)); // probe pacing, not a wait for a result
      }
    })();
    await Promise.all(nodes.flatMap((n) => [bansFrom(n, 4), bansFrom(n, 4)]));
    probing = false;
    await prober;
    mark(`steady load done, ${probes.length} probes`);
    expect(probes.length).toBeGreaterThan(20);
    expect(probes.filter((p) => p.status !== 200)).toEqual([]);

    // Faults: connections terminated during writes from every node, then the lease holder killed.
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    let terminated = 0;
    try {
      const writes = Promise.all(nodes.map((n) => bansFrom(n, 5)));
      for (let round = 0; round < 8; round++) {
        const r = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE $1`, [`%/${schema}`]);
        terminated += r.rowCount ?? 0;
        await new Promise((r) => setTimeout(r, 150)); // pacing of the fault injection
      }
      await writes;
    } finally {
      await admin.end();
    }
    mark('fault rounds done');
    expect(terminated).toBeGreaterThan(0);

    // Receiver 2 is still failing, so the holder has retries pending and keeps the lease.
    let holder: BrokerNode | undefined;
    await until(async () => {
      for (const n of nodes) if ((await n.call<{ leases: { held: boolean }[] }>('status')).leases.some((l) => l.held)) holder = n;
      return holder !== undefined;
    }, 10_000, 'a lease holder');
    const exited = new Promise((r) => holder!.child.once('exit', r));
    holder!.child.kill('SIGKILL');
    await exited;
    const survivors = nodes.filter((n) => n !== holder);
    await Promise.all(survivors.map((n) => bansFrom(n, 3)));
    failing = false;
    mark(`${holder!.name} killed, survivors banned`);

    // Every ban the log holds (acknowledged or not: the dead node's last may have committed) reaches every receiver.
    const store = await openPg(schema);
    try {
      const logged = (await bansUpTo(store, await store.headPosition())).map((e) => e.id);
      expect(new Set(logged).size).toBe(logged.length);
      expect(acked.filter((id) => !logged.includes(id))).toEqual([]); // nothing acknowledged is lost
      const want = [...logged].sort();
      const got = (r: Receiver) => [...new Set(r.acked.map((x) => x.headers['webhook-id']))].sort();
      await until(() => receivers.every((r) => got(r).length >= want.length), 40_000, 'every ban at every receiver');
      for (const r of receivers) expect(got(r)).toEqual(want);
      expect(receivers.every((r) => r.acked.every((x) => x.verified))).toBe(true);
      console.info(`drill: ${acked.length} bans acknowledged, ${logged.length} in the log, ${terminated} backends terminated, holder ${holder!.name} killed; deliveries ${receivers.map((r) => r.received.length).join('/')} (with retries and duplicates)`);
    } finally {
      await store.close();
    }

    mark('every ban delivered');
    // The hash chains of the PostgreSQL log, checked by the operator's tool (with the plugins' event catalogs).
    const configFile = path.join(dir, 'broker.yaml');
    fs.writeFileSync(
      configFile,
      [
        `dataDir: ${dir}`,
        'store:',
        '  kind: postgres',
        `  url: ${PG_URL}`,
        `  schema: ${schema}`,
        'secrets:',
        '  masterKey: multi-node-test-master-key-0123456789',
        'plugins:',
        '  - name: ban-broadcast',
        '  - name: oauth-server',
        '',
      ].join('\n'),
    );
    const verify = await runCli(['audit', 'verify', '--config', configFile], {});
    expect(verify.stderr).not.toMatch(/unknown|TAMPER/i);
    expect(verify.code).toBe(0);
  });
});
