// `npm run bench -- cluster`: three broker nodes (each its own process) on one PostgreSQL log.
//   - a ban written on one node until another node refuses the user's session (p50/p99);
//   - a ban until every site's webhook receiver acknowledged it (p50/p99);
//   - takeover after kill -9 of the ban-broadcast lease holder (while it has work): from the kill
//     until another node's delivery is acknowledged, against the configured lease;
//   - durable command throughput (register + disable, 8 at a time per node) with 1, 2 and 3 nodes.
// PostgreSQL at BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test).
import pg from 'pg';
import { machine } from './_bench-kit.js';
import { startNode, percentile, type BrokerNode } from '../test/adapters/multi-node/cluster.js';
import { startReceiver, secretFor, until, type Receiver } from '../test/plugins/ban-broadcast/receivers.js';

const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const LEASE_MS = Number(process.env.BENCH_LEASE_MS ?? 5000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const log = (s: string): void => void process.stderr.write(`  ${s}\n`);
const schemaName = () => `bench_cluster_${Math.random().toString(36).slice(2, 10)}`;

async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => c.end());
}

async function startCluster(count: number, schema: string, sites: { id: string; url: string; secret: string }[]): Promise<BrokerNode[]> {
  const nodes: BrokerNode[] = [];
  // One at a time: the first creates and migrates the schema.
  for (let i = 0; i < count; i++)
    nodes.push(await startNode(`node-${'abc'[i]}`, PG_URL, schema, 'drill-node.ts', { sites, leaseMs: LEASE_MS }));
  return nodes;
}

const ms = (x: number): string => `${x.toFixed(1)} ms`;
const rows: [string, string][] = [];

// --- latency and failover, three nodes, three sites
{
  const schema = schemaName();
  let failing = false;
  const receivers: Receiver[] = [];
  for (let i = 0; i < 3; i++)
    receivers.push(await startReceiver(secretFor(i), (_n, _req, res) => void res.writeHead(i === 1 && failing ? 503 : 200).end()));
  const sites = receivers.map((r, i) => ({ id: `site-${i}`, url: r.url, secret: secretFor(i) }));
  const nodes = await startCluster(3, schema, sites);
  try {
    log(`ban → refused on another node, ${ROUNDS} rounds`);
    const refusal: number[] = [];
    const delivered: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const writer = nodes[i % 3];
      const watcher = nodes[(i + 1) % 3];
      const s = await watcher.call<{ userId: string; sessionToken: string }>('login', { email: `lat-${i}@example.com` });
      const watching = watcher.call<{ at: number }>('watchRefusal', { token: s.sessionToken });
      const { t0 } = await writer.call<{ t0: number }>('banUser', { userId: s.userId });
      refusal.push((await watching).at - t0);
      await until(() => receivers.every((r) => r.acked.some((d) => d.body.includes(s.userId))), 30_000, 'every site acknowledged');
      delivered.push(Math.max(...receivers.map((r) => r.acked.find((d) => d.body.includes(s.userId))!.at)) - t0);
    }
    refusal.sort((a, b) => a - b);
    delivered.sort((a, b) => a - b);
    rows.push(['ban on one node → refused on another, p50 / p99', `${ms(percentile(refusal, 50))} / ${ms(percentile(refusal, 99))}`]);
    rows.push(['ban → acknowledged by all 3 sites, p50 / p99', `${ms(percentile(delivered, 50))} / ${ms(percentile(delivered, 99))}`]);

    log('takeover after kill -9 of the lease holder');
    failing = true; // site-1 refuses: the holder keeps retrying, so it holds the lease when killed
    const victim = await nodes[0].call<{ userId: string; sessionToken: string }>('login', { email: 'takeover@example.com' });
    await nodes[0].call('banUser', { userId: victim.userId });
    let holder: BrokerNode | undefined;
    await until(
      async () => {
        for (const n of nodes) {
          const url = (await n.call<{ url: string }>('url')).url;
          if (/broker_reactor_lease_held\{[^}]*reactor="ban-broadcast"[^}]*\} 1/.test(await (await fetch(`${url}/metrics`)).text()))
            holder = n;
        }
        return holder !== undefined;
      },
      10_000,
      'a lease holder',
    );
    const killedAt = Date.now();
    holder!.child.kill('SIGKILL');
    failing = false;
    await until(() => receivers[1].acked.some((d) => d.body.includes(victim.userId)), LEASE_MS * 4, 'delivery after takeover');
    const takeover = receivers[1].acked.find((d) => d.body.includes(victim.userId))!.at - killedAt;
    rows.push([`takeover after kill -9 of the holder (leaseMs ${LEASE_MS})`, `${(takeover / 1000).toFixed(2)} s`]);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(receivers.map((r) => r.close()));
    await dropSchema(schema);
  }
}

// --- throughput with 1, 2, 3 nodes (no sites: the commands only)
const DURATION = Number(process.env.BENCH_SECONDS ?? 8) * 1000;
const perSecond: number[] = [];
for (const count of [1, 2, 3]) {
  const schema = schemaName();
  const nodes = await startCluster(count, schema, []);
  try {
    log(`throughput with ${count} node(s), ${DURATION / 1000} s`);
    await Promise.all(nodes.map((n) => n.call('throughput', { ms: 1000, concurrency: 8 }))); // warm-up
    const results = await Promise.all(nodes.map((n) => n.call<{ commands: number }>('throughput', { ms: DURATION, concurrency: 8 })));
    const total = results.reduce((a, r) => a + r.commands, 0) / (DURATION / 1000);
    perSecond.push(total);
    rows.push([
      `durable commands/s, ${count} node(s)`,
      `${Math.round(total)}${count > 1 ? ` (${(total / perSecond[0]).toFixed(2)}× one node)` : ''}`,
    ]);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await dropSchema(schema);
  }
}

console.log(`cluster bench (${machine()}, ${new Date().toISOString().slice(0, 10)}; nodes, PostgreSQL and load share the machine)\n`);
console.log('| measure | value |\n| --- | --- |');
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
