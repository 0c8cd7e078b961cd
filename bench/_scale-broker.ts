// The real broker and the real CLI, as child processes, for `npm run bench -- scale`.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

// The TypeScript entry as the other benches run it (its compile is in every start-up: the empty
// log's row shows that floor). BENCH_BROKER=dist runs the build instead (`npm run build` first).
const CLI =
  process.env.BENCH_BROKER === 'dist'
    ? ['dist/adapters/cli/main.js']
    : ['--import', './adapters/cli/ts-register.mjs', 'adapters/cli/main.ts'];

/** A config file for a broker on `dbFile`, with an admin API token (minted as `broker admin-token` does). */
export function writeConfig(dir: string, dbFile: string): { config: string; token: string } {
  const token = `bat_${randomBytes(32).toString('base64url')}`;
  const tokenHash = createHash('sha256').update(token).digest('hex');
  const config = path.join(dir, 'broker.yaml');
  fs.writeFileSync(
    config,
    [
      'server: { host: 127.0.0.1, port: 0 }',
      `dataDir: ${JSON.stringify(dir)}`,
      `store: { kind: sqlite, path: ${JSON.stringify(dbFile)} }`,
      `secrets: { masterKey: ${JSON.stringify('b'.repeat(32))} }`,
      'log: { level: warn }',
      `admin: { apiTokens: [{ name: bench, tokenHash: ${tokenHash} }] }`,
      '',
    ].join('\n'),
  );
  return { config, token };
}

export interface RunningBroker {
  child: ChildProcess;
  url: string;
  /** Spawn to the first 200 from /readyz (the read models caught up with the log), ms. */
  readyMs: number;
  /** Resident set size when /readyz first answered 200, MiB. */
  rssMiB: number;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * `broker start`, timed from the spawn to /readyz 200. Nothing here assumes what start-up does
 * (replay everything, or resume persisted read models from their checkpoint): ready is ready.
 */
export async function startBroker(config: string, timeoutMs = 30 * 60_000): Promise<RunningBroker> {
  const t0 = performance.now();
  // stderr kept, not shown: the admin plugin prints its setup link there at every start.
  const child = spawn(process.execPath, [...CLI, 'start', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const rl = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    rl.on('line', (l) => {
      const m = /broker listening on (\S+)/.exec(l);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`broker exited with ${code} before listening: ${stderr}`)));
  });
  for (;;) {
    const r = await fetch(`${url}/readyz`).catch(() => null);
    if (r?.status === 200) break;
    await r?.arrayBuffer();
    if (performance.now() - t0 > timeoutMs) throw new Error('broker not ready in time');
    await new Promise((res) => setTimeout(res, 10));
  }
  return { child, url, readyMs: performance.now() - t0, rssMiB: rssMiB(child.pid!) };
}

export async function stopBroker(b: RunningBroker): Promise<void> {
  if (b.child.exitCode !== null) return;
  const exited = new Promise((r) => b.child.once('exit', r));
  b.child.kill('SIGTERM');
  await exited;
}

/** Median latency (ms) of `n` sequential GETs, after one warm-up; throws on a non-200. */
export async function medianGet(url: string, headers: Record<string, string>, n = 15): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i <= n; i++) {
    const t = performance.now();
    const r = await fetch(url, { headers });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
    if (i) times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Runs `broker <args>` to its end: wall time (ms, process start included), exit code, stdout. */
export function runCli(args: string[]): Promise<{ ms: number; code: number; stdout: string; stderr: string }> {
  const t = performance.now();
  const child = spawn(process.execPath, [...CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ ms: performance.now() - t, code: code ?? -1, stdout, stderr })));
}
