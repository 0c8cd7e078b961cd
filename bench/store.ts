// `npm run bench -- store`: the SQLite event store beside bare better-sqlite3 in the same run.
// (1) durable single-event commands/s through Users/CommandHandler, 50 concurrent callers, FULL and
// NORMAL; (2) batched appends (100 events each); (3) replay of 1,000,000 events into the core read
// models, events/s and peak RSS (in a fresh child process).
// BENCH_REPLAY_EVENTS=<n> shrinks the replay log for a quick check.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteEventStore } from '../adapters/event-stores/sqlite.js';
import { generateLog, measureBareSqlite, measureBatchedAppends, measureCommands, type Rate } from './_store-measure.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-store-'));
const replayEvents = Number(process.env.BENCH_REPLAY_EVENTS ?? 1_000_000);
const rows: string[][] = [];
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const row = (what: string, ours: Rate | number, base: Rate | null, unit: string, target: string): void => {
  const v = typeof ours === 'number' ? ours : ours.perSec;
  rows.push([what, `${fmt(v)} ${unit}`, base ? `${fmt(base.perSec)} ${unit}` : '', base ? `${(v / base.perSec).toFixed(2)}×` : '', target]);
  console.error(`  ${what}: ${fmt(v)} ${unit}`);
};

try {
  for (const synchronous of ['FULL', 'NORMAL'] as const) {
    const store = await SqliteEventStore.open({ path: path.join(dir, `commands-${synchronous}.db`), synchronous });
    const cmd = await measureCommands(store, { users: 2000, commands: 20_000, concurrency: 50 });
    await store.close();
    const bare = measureBareSqlite(path.join(dir, `bare-${synchronous}.db`), synchronous, synchronous === 'FULL' ? 2000 : 5000, 1);
    row(`commands, 50 callers, ${synchronous} (vs bare 1 insert/tx)`, cmd, bare, '/s', synchronous === 'FULL' ? '≥ 5,000' : '');
  }

  {
    const store = await SqliteEventStore.open({ path: path.join(dir, 'batched.db'), synchronous: 'FULL' });
    const b = await measureBatchedAppends(store, { appends: 300, size: 100, concurrency: 1 });
    const b4 = await measureBatchedAppends(store, { appends: 300, size: 100, concurrency: 4 });
    await store.close();
    const bare = measureBareSqlite(path.join(dir, 'bare-batched.db'), 'FULL', 300, 100);
    row('batched appends (100 ev), 1 writer, FULL: events', b.events, bare, 'ev/s', '');
    row('  same, appends', b.appends, null, '/s', '');
    row('batched appends (100 ev), 4 writers, FULL: events', b4.events, bare, 'ev/s', '');
  }

  {
    const file = path.join(dir, 'replay.db');
    const store = await SqliteEventStore.open({ path: file, synchronous: 'FULL' });
    const t0 = performance.now();
    const n = await generateLog(store, replayEvents, (w) => {
      if (w % 100_000 < 5100) console.error(`  generating log: ${fmt(w)} events`);
    });
    await store.close();
    console.error(`  generated ${fmt(n)} events in ${((performance.now() - t0) / 1000).toFixed(1)} s (${(fs.statSync(file).size / 2 ** 20).toFixed(0)} MiB file)`);
    const out = execFileSync(
      process.execPath,
      ['--import', './adapters/cli/ts-register.mjs', 'bench/_store-replay.ts', JSON.stringify({ kind: 'sqlite', path: file, synchronous: 'FULL' }), file],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
    );
    const { replay, bare } = JSON.parse(out) as { replay: Rate & { peakRssMiB: number; unknown: number }; bare: Rate };
    row(`replay ${fmt(replay.count)} events into core read models (vs bare read + JSON.parse)`, replay, bare, 'ev/s', '≥ 200,000');
    rows.push(['replay peak RSS (child process maxRSS)', `${fmt(replay.peakRssMiB)} MiB`, '', '', '< 1,024 MiB']);
  }

  const header = ['measure', 'SQLite store', 'bare better-sqlite3', 'ratio', 'target'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]): string => '| ' + r.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  console.log(line(header));
  console.log('| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |');
  for (const r of rows) console.log(line(r));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
