// `npm run bench -- store`: the SQLite event store beside bare better-sqlite3 in the same run.
// (1) durable single-event commands/s through Users/CommandHandler, 50 concurrent callers, FULL and
// NORMAL; (2) batched appends (100 events each); (3) replay of 1,000,000 events into the core read
// models, events/s and peak RSS (in a fresh child process).
// BENCH_REPLAY_EVENTS=<n> shrinks the replay log for a quick check.
// (4) the transparency log: commands with the tree on vs off, audit verify (verifyLog) with the
// tree, proof generation time by tree size (BENCH_TLOG_PROOF_MAX, default 5,000,000 leaves;
// BENCH_TLOG_VERIFY_EVENTS, default 200,000).
// (5) personal data sealed per user (issue 19) vs in clear, same run: durable commands (registrations
// and logins, which carry personal fields), batched login appends, and replay of a
// BENCH_PERSONAL_EVENTS log (default 300,000) written sealed, read and opened, and into the read models.
// BENCH_STORE_ONLY=replay runs only (3), BENCH_STORE_ONLY=tlog only (4), BENCH_STORE_ONLY=personal only (5). BENCH_REPLAY_FILE=<path> keeps the generated log at
// <path> and reuses it on the next run when it holds BENCH_REPLAY_EVENTS events (generating 1M
// events takes minutes); put it under .tmp/, which git ignores. BENCH_REPLAY_PROF=<dir> runs the
// replay child under `node --cpu-prof`, writing its profile into <dir>.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteEventStore } from '../adapters/event-stores/sqlite.js';
import { generateLog, measureBareSqlite, measureBatchedAppends, measureCommands, type Rate } from './_store-measure.js';
import { measureProofs, measureTreeCost, measureVerify } from './_tlog-measure.js';
import { measurePersonalData } from './_personal-measure.js';

const replayEvents = Number(process.env.BENCH_REPLAY_EVENTS ?? 1_000_000);
const only = process.env.BENCH_STORE_ONLY;
if (only !== undefined && only !== 'replay' && only !== 'tlog' && only !== 'personal')
  throw new Error(`BENCH_STORE_ONLY must be 'replay', 'tlog' or 'personal', got ${JSON.stringify(only)}`);
const personalEvents = Number(process.env.BENCH_PERSONAL_EVENTS ?? 300_000);
const replayFile = process.env.BENCH_REPLAY_FILE ? path.resolve(process.env.BENCH_REPLAY_FILE) : null;
const profDir = process.env.BENCH_REPLAY_PROF ? path.resolve(process.env.BENCH_REPLAY_PROF) : null;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-store-'));
const rows: string[][] = [];
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const row = (what: string, ours: Rate | number, base: Rate | null, unit: string, target: string): void => {
  const v = typeof ours === 'number' ? ours : ours.perSec;
  rows.push([what, `${fmt(v)} ${unit}`, base ? `${fmt(base.perSec)} ${unit}` : '', base ? `${(v / base.perSec).toFixed(2)}×` : '', target]);
  console.error(`  ${what}: ${fmt(v)} ${unit}`);
};

/** Event count of a kept replay log generated for `requested` events, or 0 when there is none. A
 *  marker written after a complete generation guards against reusing a half-written log. */
function keptLogEvents(file: string, requested: number): number {
  try {
    const mark = JSON.parse(fs.readFileSync(`${file}.json`, 'utf8')) as { requested: number; events: number };
    if (mark.requested !== requested || !fs.existsSync(file)) return 0;
    const db = new Database(file, { readonly: true });
    try {
      const count = db.prepare('SELECT count(*) FROM events').pluck().get() as number;
      return count === mark.events ? count : 0;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

try {
  if (!only)
    for (const synchronous of ['FULL', 'NORMAL'] as const) {
      const store = await SqliteEventStore.open({ path: path.join(dir, `commands-${synchronous}.db`), synchronous });
      const cmd = await measureCommands(store, { users: 2000, commands: 20_000, concurrency: 50 });
      await store.close();
      const bare = measureBareSqlite(path.join(dir, `bare-${synchronous}.db`), synchronous, synchronous === 'FULL' ? 2000 : 5000, 1);
      row(`commands, 50 callers, ${synchronous} (vs bare 1 insert/tx)`, cmd, bare, '/s', synchronous === 'FULL' ? '≥ 5,000' : '');
    }

  if (!only) {
    const store = await SqliteEventStore.open({ path: path.join(dir, 'batched.db'), synchronous: 'FULL' });
    const b = await measureBatchedAppends(store, { appends: 300, size: 100, concurrency: 1 });
    const b4 = await measureBatchedAppends(store, { appends: 300, size: 100, concurrency: 4 });
    await store.close();
    const bare = measureBareSqlite(path.join(dir, 'bare-batched.db'), 'FULL', 300, 100);
    row('batched appends (100 ev), 1 writer, FULL: events', b.events, bare, 'ev/s', '');
    row('  same, appends', b.appends, null, '/s', '');
    row('batched appends (100 ev), 4 writers, FULL: events', b4.events, bare, 'ev/s', '');
  }

  if (only !== 'replay' && only !== 'personal') {
    const { off, on } = await measureTreeCost(dir);
    row('commands, 50 callers, FULL, Merkle tree on (vs off)', on, off, '/s', '≥ 0.90×');
    const verify = await measureVerify(dir, Number(process.env.BENCH_TLOG_VERIFY_EVENTS ?? 200_000));
    row(`audit verify (chains + tree + checkpoint), ${fmt(verify.all.count)} events`, verify.all, null, 'ev/s', '≥ 200,000');
    row('  of which the tree: leaves read, recomputed, compared, folded', verify.treeOnly, null, 'ev/s', '');
    const max = Number(process.env.BENCH_TLOG_PROOF_MAX ?? 5_000_000);
    const sizes = [10_000, 100_000, 1_000_000, 5_000_000].filter((s) => s < max).concat(max);
    for (const p of await measureProofs(dir, sizes)) {
      rows.push([
        `proofs at ${fmt(p.size)} leaves: inclusion / consistency`,
        `${p.inclusionMs.toFixed(3)} / ${p.consistencyMs.toFixed(3)} ms`,
        '',
        '',
        p.size >= 5_000_000 ? '< 5 ms' : '',
      ]);
    }
  }

  if (!only || only === 'personal') {
    const m = await measurePersonalData(dir, personalEvents);
    for (const [what, sealed, plain, target] of m) row(what, sealed, plain, 'ev/s', target);
  }

  if (only !== 'tlog' && only !== 'personal') {
    const file = replayFile ?? path.join(dir, 'replay.db');
    const kept = replayFile ? keptLogEvents(file, replayEvents) : 0;
    if (kept) console.error(`  reusing ${fmt(kept)} events in ${file}`);
    else {
      if (replayFile) for (const f of [`${file}.json`, file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
      const store = await SqliteEventStore.open({ path: file, synchronous: 'FULL' });
      const t0 = performance.now();
      const n = await generateLog(store, replayEvents, (w) => {
        if (w % 100_000 < 5100) console.error(`  generating log: ${fmt(w)} events`);
      });
      await store.close();
      if (replayFile) fs.writeFileSync(`${file}.json`, JSON.stringify({ requested: replayEvents, events: n }));
      console.error(
        `  generated ${fmt(n)} events in ${((performance.now() - t0) / 1000).toFixed(1)} s (${(fs.statSync(file).size / 2 ** 20).toFixed(0)} MiB file)`,
      );
    }
    const out = execFileSync(
      process.execPath,
      [
        ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
        '--import',
        './adapters/cli/ts-register.mjs',
        'bench/_store-replay.ts',
        JSON.stringify({ kind: 'sqlite', path: file, synchronous: 'FULL' }),
        file,
      ],
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
