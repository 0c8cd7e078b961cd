// `npm run bench -- scale [--sizes 100k,1M,5M]`: how the broker behaves as its log grows. For an
// empty log and each size (default 100k and 1M events), a realistic log (bench/_scale-log.ts,
// cached under <tmp>/broker-bench-scale/ by size: 1M takes minutes to make) is copied to a work
// directory and the real broker and CLI run on it:
//   - start-up: spawn of `broker start` to the first 200 from /readyz, and the RSS then, twice: the
//     first start on the log (it builds the read models) and a restart (it resumes them);
//   - `broker audit user <id>` (wall time, the CLI's own start included: compare the empty row);
//   - GET /admin/api/users?limit=50, and with q= (part of an email), median of 15, admin token;
//   - `broker events copy` into a fresh PostgreSQL schema (the rate it reports), when PostgreSQL
//     answers at BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test);
//   - a full rebuild of the read models: `broker replay` (the rate it reports).
// Start-up is only ever timed, never taken for a replay: a broker that resumes persisted read
// models is measured the same way. Prints a markdown table on stdout, progress on stderr.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { generateScaleLog, type ScaleLog } from './_scale-log.js';
import { medianGet, runCli, startBroker, stopBroker, writeConfig } from './_scale-broker.js';
import { machine } from './_bench-kit.js';

const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CACHE = path.join(os.tmpdir(), 'broker-bench-scale');

function parseSizes(argv: string[]): number[] {
  const i = argv.indexOf('--sizes');
  const raw = i >= 0 ? argv[i + 1] : (argv.find((a) => a.startsWith('--sizes='))?.slice(8) ?? '100k,1M');
  if (!raw) throw new Error('--sizes needs a list, e.g. --sizes 100k,1M,5M');
  return raw.split(',').map((s) => {
    const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s.trim());
    if (!m) throw new Error(`--sizes: cannot read ${JSON.stringify(s)} (e.g. 100k, 1M)`);
    return Math.round(Number(m[1]) * (m[2].toLowerCase() === 'k' ? 1e3 : m[2].toLowerCase() === 'm' ? 1e6 : 1));
  });
}

const label = (n: number): string => (n === 0 ? 'empty' : n % 1e6 === 0 ? `${n / 1e6}M` : n % 1e3 === 0 ? `${n / 1e3}k` : String(n));
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const log = (s: string): void => void process.stderr.write(`  ${s}\n`);

/** The cached log for `size` events (made when missing or incomplete: a marker is written last). */
async function cachedLog(size: number): Promise<{ file: string; meta: ScaleLog }> {
  fs.mkdirSync(CACHE, { recursive: true });
  const file = path.join(CACHE, `log-${label(size)}.db`);
  const marker = `${file}.json`;
  try {
    const meta = JSON.parse(fs.readFileSync(marker, 'utf8')) as ScaleLog;
    const db = new Database(file, { readonly: true });
    const count = db.prepare('SELECT count(*) FROM events').pluck().get() as number;
    db.close();
    if (count === meta.events) {
      log(`${label(size)}: reusing ${file}`);
      return { file, meta };
    }
  } catch {
    // none yet, or half-written: made again below
  }
  for (const f of [marker, file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
  const t = performance.now();
  const meta = await generateScaleLog(file, size, (w) => {
    if (w % 100_000 < 10_700) log(`${label(size)}: generated ${fmt(w)} events`);
  });
  fs.writeFileSync(marker, JSON.stringify(meta));
  log(`${label(size)}: ${fmt(meta.events)} events for ${fmt(meta.users)} users in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  return { file, meta };
}

async function pgReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => c.end());
}

type Row = Record<string, string>;

async function measure(size: number, withPg: boolean): Promise<Row> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-scale-run-'));
  try {
    const db = path.join(work, 'broker.db');
    let meta: ScaleLog | null = null;
    if (size) {
      const cached = await cachedLog(size);
      meta = cached.meta;
      fs.copyFileSync(cached.file, db); // the broker appends at start: the cached log stays as made
    }
    const { config, token } = writeConfig(work, db);
    const row: Row = { log: label(size), events: meta ? fmt(meta.events) : '0' };
    // The first start on a log builds the read models (a rebuild); every later start resumes them
    // from their checkpoints. Both are timed: the second is what an operator's restart costs.
    log(`${row.log}: first start (builds the read models)`);
    const first = await startBroker(config);
    row['first start → /readyz'] = `${(first.readyMs / 1000).toFixed(2)} s`;
    row['RSS (first)'] = `${fmt(first.rssMiB)} MiB`;
    await stopBroker(first);
    log(`${row.log}: restart (resumes the read models)`);
    const b = await startBroker(config);
    try {
      row['restart → /readyz'] = `${(b.readyMs / 1000).toFixed(2)} s`;
      row['RSS at ready'] = `${fmt(b.rssMiB)} MiB`;
      const auth = { authorization: `Bearer ${token}` };
      row['users?limit=50'] = `${(await medianGet(`${b.url}/admin/api/users?limit=50`, auth)).toFixed(1)} ms`;
      const q = encodeURIComponent(meta ? meta.sampleEmail.split('@')[0] : 'user1');
      row['users?q=…&limit=50'] = `${(await medianGet(`${b.url}/admin/api/users?limit=50&q=${q}`, auth)).toFixed(1)} ms`;
    } finally {
      await stopBroker(b);
    }
    // The CLI's own start-up is in these times; the empty row's audit shows it (an unknown user).
    log(`${row.log}: broker audit user`);
    const audit = await runCli([
      'audit',
      'user',
      meta ? meta.sampleUserId : '00000000-0000-4000-8000-000000000000',
      '--json',
      '--config',
      config,
    ]);
    if (meta && audit.code !== 0) throw new Error(`audit user failed: ${audit.stderr}`);
    row['audit user'] = `${(audit.ms / 1000).toFixed(2)} s${meta ? '' : ' (no user: CLI floor)'}`;
    log(`${row.log}: broker replay`);
    const replay = await runCli(['replay', '--json', '--config', config]);
    if (replay.code !== 0) throw new Error(`replay failed: ${replay.stderr}`);
    const rebuilt = JSON.parse(replay.stdout) as { applied: number; eventsPerSecond: number };
    row['full rebuild (broker replay)'] = size ? `${fmt(rebuilt.eventsPerSecond)} ev/s` : '–';
    if (withPg && size) {
      log(`${row.log}: broker events copy → PostgreSQL`);
      const schema = `bench_scale_${Math.random().toString(36).slice(2, 10)}`;
      try {
        const copy = await runCli(['events', 'copy', '--from', `sqlite:${db}`, '--to', `${PG_URL}?schema=${schema}`]);
        const m = /\((\d+) events\/s\)/.exec(copy.stdout);
        if (copy.code !== 0 || !m) throw new Error(`events copy failed: ${copy.stderr || copy.stdout}`);
        row['events copy → PG'] = `${fmt(Number(m[1]))} ev/s`;
      } finally {
        await dropSchema(schema);
      }
    } else row['events copy → PG'] = size ? 'no PostgreSQL' : '–';
    return row;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const sizes = parseSizes(process.argv.slice(2));
const withPg = await pgReachable();
if (!withPg) log(`PostgreSQL unreachable at ${PG_URL}: no copy rate`);
const rows: Row[] = [];
for (const size of [0, ...sizes]) rows.push(await measure(size, withPg));
const header = Object.keys(rows[rows.length - 1]);
console.log(`scale bench (${machine()}, ${new Date().toISOString().slice(0, 10)})\n`);
console.log(`| ${header.join(' | ')} |`);
console.log(`| ${header.map(() => '---').join(' | ')} |`);
for (const r of rows) console.log(`| ${header.map((h) => r[h] ?? '').join(' | ')} |`);
