// `npm run bench -- cluster`: three broker processes on one PostgreSQL schema, three webhook
// receivers. (1) a ban on node A until node C refuses the session, p50/p99 over BENCH_BANS (30);
// (2) a ban until all three sites acknowledged its webhook; (3) command throughput (user
// registrations through the command handler, 16 callers per node, BENCH_LOAD_MS each) with 1, 2 and
// 3 nodes loaded at once; (4) takeover after kill -9 of the ban-broadcast lease holder, with lease
// BENCH_LEASE_MS (3000; the plugin's default is 15000).
// BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test).
import os from 'node:os';
import pg from 'pg';
import { percentile, startNode, type BrokerNode } from '../test/adapters/multi-node/cluster.js';
import { secretFor, startReceiver, type Receiver } from '../test/plugins/ban-broadcast/receivers.js';

const url = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const bans = Number(process.env.BENCH_BANS ?? 30);
const loadMs = Number(process.env.BENCH_LOAD_MS ?? 5000);
const leaseMs = Number(process.env.BENCH_LEASE_MS ?? 3000);
const schema = `bench_${Math.random().toString(36).slice(2, 10)}`;
const ms = (n: number): string => `${n.toFixed(1)} ms`;
const waitFor = async (cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> => {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
};

let failing = false;
const receivers: Receiver[] = [];
for (let i = 0; i < 3; i++) receivers.push(await startReceiver(secretFor(i), (_n, _req, res) => void res.writeHead(i === 0 && failing ? 503 : 200).end()));
const broadcast = { sites: receivers.map((r, i) => ({ id: `site${i}`, url: r.url, secret: secretFor(i) })), leaseMs, sitesRevision: 1 };
const nodes: BrokerNode[] = [];
const out: [string, string][] = [];
const report = (what: string, value: string): void => {
  out.push([what, value]);
  console.error(`  ${what}: ${value}`);
};

try {
  console.error(`starting three nodes on schema ${schema} (lease ${leaseMs} ms)...`);
  nodes.push(...(await Promise.all(['A', 'B', 'C'].map((n) => startNode(n, url, schema, broadcast)))));
  const [a, b, c] = nodes;

  {
    // (1) ban through A, session refused by C.
    const lat: number[] = [];
    for (let i = 0; i < bans; i++) {
      const { userId } = await b.call<{ userId: string }>('register', { email: `p-${i}-${schema}@example.com` });
      const { sessionToken, position } = await b.call<{ sessionToken: string; position: number }>('login', { userId });
      await Promise.all([a.call('waitPosition', { position }), c.call('waitPosition', { position })]);
      const refused = c.call<{ at: number }>('watchRefusal', { token: sessionToken, timeoutMs: 10_000 });
      const { t0 } = await a.call<{ t0: number }>('ban', { userId });
      lat.push((await refused).at - t0);
    }
    lat.sort((x, y) => x - y);
    report(`ban on A → session refused on C (${bans} bans)`, `p50 ${ms(percentile(lat, 50))}, p99 ${ms(percentile(lat, 99))}`);
  }

  {
    // (2) ban (from each node in turn) until every site acknowledged it.
    const lat: number[] = [];
    const ackedAt = (id: string): number | null => {
      let last = 0;
      for (const r of receivers) {
        const hit = r.acked.find((x) => x.headers['webhook-id'] === id);
        if (!hit) return null;
        last = Math.max(last, hit.at);
      }
      return last;
    };
    for (let i = 0; i < bans; i++) {
      const n = nodes[i % 3];
      const { banEventId, t0 } = await n.call<{ banEventId: string; t0: number }>('banNew', { email: `w-${i}-${schema}@example.com` });
      await waitFor(() => ackedAt(banEventId) !== null, 30_000, 'three acknowledgements');
      lat.push(ackedAt(banEventId)! - t0);
    }
    lat.sort((x, y) => x - y);
    report(`ban → all 3 sites acknowledged (${bans} bans, from each node in turn)`, `p50 ${ms(percentile(lat, 50))}, p99 ${ms(percentile(lat, 99))}`);
  }

  {
    // (3) throughput: the same load per node, on 1, 2 and 3 nodes at once.
    const rates: number[] = [];
    for (const k of [1, 2, 3]) {
      const counts = await Promise.all(nodes.slice(0, k).map((n) => n.call<{ count: number }>('load', { ms: loadMs, concurrency: 16, tag: `k${k}` })));
      const total = counts.reduce((s, x) => s + x.count, 0);
      rates.push(total / (loadMs / 1000));
      report(`registrations/s with ${k} node${k > 1 ? 's' : ''} loaded (16 callers each)`, `${Math.round(rates[k - 1])} (${counts.map((x) => x.count).join(' + ')} in ${loadMs / 1000} s)`);
    }
    const r3 = rates[2] / rates[0];
    report('throughput ratio 2 nodes / 1, 3 nodes / 1', `${(rates[1] / rates[0]).toFixed(2)}×, ${r3.toFixed(2)}× (${r3 >= 2.4 ? 'nodes add capacity' : r3 >= 1.3 ? 'nodes add some capacity, far from linear: mostly availability' : 'nodes add availability, not capacity'})`);
  }

  {
    // (4) kill -9 of the lease holder while it has deliveries pending (site0 answers 503 and is retried).
    failing = true;
    await a.call('banNew', { email: `k-${schema}@example.com` });
    let holder: BrokerNode | undefined;
    await waitFor(async () => {
      for (const n of nodes) if ((await n.call<{ leases: { held: boolean }[] }>('status')).leases.some((l) => l.held)) holder = n;
      return holder !== undefined && receivers[0].received.length > 0;
    }, 20_000, 'a lease holder sending');
    const seen = receivers.reduce((s, r) => s + r.received.length, 0);
    const exited = new Promise((r) => holder!.child.once('exit', r));
    holder!.child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    // The dead holder's last requests may still be arriving: count only what arrives after it died.
    const after = (): number | null => {
      const times = receivers.flatMap((r) => r.received.slice(0).map((x) => x.at)).filter((t) => t > killedAt);
      return times.length ? Math.min(...times) : null;
    };
    await waitFor(() => after() !== null, leaseMs * 3 + 10_000, 'a survivor sending');
    report(`takeover after kill -9 of the holder (${holder!.name}), lease ${leaseMs} ms`, `${after()! - killedAt} ms to the next webhook (${seen} requests before)`);
    failing = false;
  }
} finally {
  await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
  for (const r of receivers) await r.close();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
}

console.log('\n| cluster (3 nodes, 1 PostgreSQL) | figure |\n| --- | --- |');
for (const [k, v] of out) console.log(`| ${k} | ${v} |`);
// Why the ratio is what it is: every write goes to one PostgreSQL log (appends to one stream are
// serialised by its advisory lock, positions by one sequence), and every node folds every event of
// the whole cluster into its own read models, so each added node adds a command path but repeats
// the others' projection work. Nodes therefore scale the request side (sessions, token checks, the
// gateway, read from local rows) far better than writes. On a 2-core machine shared by the nodes,
// PostgreSQL and this process, no node can add CPU either.
console.log(`\nnodes: ${os.cpus().length} cores shared by the three nodes, PostgreSQL and this process; compare ratios within one run.`);
console.log('Writes go to one PostgreSQL log and every node folds every event into its own read models: nodes add availability and read/check capacity; write capacity is bounded by the log (and here by the shared cores).');
