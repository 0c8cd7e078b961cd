// `npm run bench -- store-pg`: the PostgreSQL event store beside bare `pg` in the same run.
// (1) durable single-event commands/s through Users/CommandHandler, 50 concurrent callers;
// (2) batched appends (100 events each); (3) replay of a 200,000-event log (kept small so the run
// stays quick; BENCH_REPLAY_EVENTS=<n> changes it) into the core read models, in a fresh child
// process; (4) two broker processes on the schema: ban through A until B refuses the session,
// p50/p99 over BENCH_BANS (50) bans.
// BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test), BENCH_PG_POOL (default 10).
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { PostgresEventStore } from '../adapters/event-stores/postgres.js';
import { percentile, startNode } from '../test/adapters/multi-node/cluster.js';
import { measureBarePgCommits, measureBarePgRead } from './_pg-bare.js';
import { generateLog, measureBatchedAppends, measureCommands, type Rate } from './_store-measure.js';

const url = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const poolMax = Number(process.env.BENCH_PG_POOL ?? 10);
const replayEvents = Number(process.env.BENCH_REPLAY_EVENTS ?? 200_000);
const commands = Number(process.env.BENCH_COMMANDS ?? 10_000);
const bans = Number(process.env.BENCH_BANS ?? 50);
const schema = `bench_${Math.random().toString(36).slice(2, 10)}`;
const rows: string[][] = [];
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const row = (what: string, ours: Rate | string, base: Rate | null, unit: string, target: string): void => {
  const v = typeof ours === 'string' ? ours : `${fmt(ours.perSec)} ${unit}`;
  rows.push([
    what,
    v,
    base ? `${fmt(base.perSec)} ${unit}` : '',
    base && typeof ours !== 'string' ? `${(ours.perSec / base.perSec).toFixed(2)}×` : '',
    target,
  ]);
  console.error(`  ${what}: ${v}`);
};

const admin = new pg.Client({ connectionString: url });
await admin.connect();
try {
  const store = await PostgresEventStore.open({ connectionString: url, schema, poolMax });
  {
    const cmd = await measureCommands(store, { users: 1000, commands, concurrency: 50 });
    const bare = await measureBarePgCommits(url, schema, 3000, poolMax);
    row(`commands, 50 callers, pool ${poolMax} (vs bare 1-row tx, ${poolMax} clients)`, cmd, bare, '/s', '');
  }
  {
    const b = await measureBatchedAppends(store, { appends: 200, size: 100, concurrency: 1 });
    const b4 = await measureBatchedAppends(store, { appends: 200, size: 100, concurrency: 4 });
    row('batched appends (100 ev), 1 writer: events', b.events, null, 'ev/s', '');
    row('  same, appends', b.appends, null, '/s', '');
    row('batched appends (100 ev), 4 writers: events', b4.events, null, 'ev/s', '');
  }
  await store.close();

  {
    // The replay log in a schema of its own, so the replay reads exactly `replayEvents` events.
    const replaySchema = `${schema}_r`;
    const gen = await PostgresEventStore.open({ connectionString: url, schema: replaySchema, poolMax });
    const t0 = performance.now();
    const n = await generateLog(gen, replayEvents, (w) => {
      if (w % 50_000 < 5100) console.error(`  generating log: ${fmt(w)} events`);
    });
    await gen.close();
    console.error(`  generated ${fmt(n)} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const out = execFileSync(
      process.execPath,
      [
        '--import',
        './adapters/cli/ts-register.mjs',
        'bench/_store-replay.ts',
        JSON.stringify({ kind: 'postgres', url, schema: replaySchema, poolMax: 2 }),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
    );
    const { replay } = JSON.parse(out) as { replay: Rate & { peakRssMiB: number } };
    const bare = await measureBarePgRead(url, replaySchema);
    row(
      `replay ${fmt(replay.count)} events into core read models (vs bare paged read of the same columns + JSON.parse)`,
      replay,
      bare,
      'ev/s',
      '',
    );
    rows.push(['replay peak RSS (child process maxRSS)', `${fmt(replay.peakRssMiB)} MiB`, '', '', '']);
    await admin.query(`DROP SCHEMA "${replaySchema}" CASCADE`);
  }

  {
    const nodeSchema = `${schema}_n`;
    const a = await startNode('A', url, nodeSchema);
    const b = await startNode('B', url, nodeSchema);
    try {
      const latencies: number[] = [];
      for (let i = 0; i < bans; i++) {
        const { userId } = await b.call<{ userId: string }>('register', { email: `ban${i}@example.com` });
        const { sessionToken, position } = await b.call<{ sessionToken: string; position: number }>('login', { userId });
        await a.call('waitPosition', { position });
        const refused = b.call<{ at: number }>('watchRefusal', { token: sessionToken, timeoutMs: 5000 });
        const { t0 } = await a.call<{ t0: number }>('ban', { userId });
        latencies.push((await refused).at - t0);
      }
      latencies.sort((x, y) => x - y);
      row(
        `ban through node A until node B refuses the session (${bans} bans)`,
        `p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies[latencies.length - 1].toFixed(1)} ms`,
        null,
        '',
        '≤ 200 ms',
      );
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await admin.query(`DROP SCHEMA IF EXISTS "${nodeSchema}" CASCADE`);
    }
  }

  const header = ['measure', 'PostgreSQL store', 'bare pg', 'ratio', 'target'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]): string => '| ' + r.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  console.log(line(header));
  console.log('| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |');
  for (const r of rows) console.log(line(r));
} finally {
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
  await admin.end();
}
