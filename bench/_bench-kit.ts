// Shared helpers for benchmarks: child processes, autocannon runs, table printing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createInterface } from 'node:readline';
import os from 'node:os';
import autocannon from 'autocannon';

export function machine(): string {
  return `${os.cpus().length} cores ${os.cpus()[0]?.model ?? ''}, node ${process.version}`;
}

/**
 * Whether the servers and the load generator can each have a core of their own: Linux `taskset`
 * and at least two cores (BENCH_PIN=0 turns it off). Unpinned, autocannon and the server under test
 * share the cores as the scheduler pleases, and a run measures that sharing as much as the server.
 */
export const canPin: boolean = process.env.BENCH_PIN !== '0' && os.cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;

/** Pins this process (all its threads: autocannon runs here) to CPU 0, when canPin. */
export function pinLoadGenerator(): boolean {
  return canPin && spawnSync('taskset', ['-a', '-cp', '0', String(process.pid)]).status === 0;
}

/** Lets a process (all its threads) run on every core again. */
export function unpin(pid: number): void {
  if (canPin) spawnSync('taskset', ['-a', '-cp', `0-${os.cpus().length - 1}`, String(pid)]);
}

/**
 * Starts a TypeScript child (through ts-node) and resolves with the first JSON line it prints.
 * `pinned`: the child runs on CPU 1 alone (when canPin); taskset execs node, so the pid is node's.
 */
export async function startChild<T>(
  script: string,
  args: string[] = [],
  env: Record<string, string> = {},
  opts: { pinned?: boolean } = {},
): Promise<{ child: ChildProcess; info: T }> {
  const argv = [process.execPath, '--import', './adapters/cli/ts-register.mjs', script, ...args];
  if (opts.pinned && canPin) argv.unshift('taskset', '-c', '1');
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const rl = createInterface({ input: child.stdout! });
  const info = await new Promise<T>((resolve, reject) => {
    rl.once('line', (l) => resolve(JSON.parse(l) as T));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { child, info };
}

/** A plain node:http upstream in its own process (so it does not share the servers' CPU slice unevenly). */
export async function startUpstream(): Promise<{ child: ChildProcess; url: string }> {
  const code = `const http=require('http');const s=http.createServer((q,r)=>{r.setHeader('content-type','application/json');r.end('{"ok":true,"user":'+JSON.stringify(q.headers['x-user-id']||null)+'}')});s.keepAliveTimeout=60000;s.listen(0,'127.0.0.1',()=>console.log(JSON.stringify({url:'http://127.0.0.1:'+s.address().port})))`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const rl = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve) => rl.once('line', (l) => resolve((JSON.parse(l) as { url: string }).url)));
  return { child, url };
}

/** A process's CPU time so far (user + system, all threads), in clock ticks (100/s), from /proc (Linux). */
export function cpuTicks(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

export async function load(
  url: string,
  opts: { headers?: Record<string, string>; connections?: number; duration?: number; method?: 'GET' | 'POST'; body?: string } = {},
): Promise<LoadResult> {
  const r = await autocannon({
    url,
    connections: opts.connections ?? 50,
    duration: opts.duration ?? 5,
    headers: opts.headers,
    method: opts.method ?? 'GET',
    ...(opts.body ? { body: opts.body } : {}),
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
}

/**
 * One autocannon run against a server process, with that process's CPU time per request (from
 * /proc: far less noisy than req/s on a shared machine) and how busy it was, in cores (1.00: one
 * core busy throughout the run).
 */
export async function loadServer(
  pid: number,
  url: string,
  opts: Parameters<typeof load>[1] = {},
): Promise<LoadResult & { cpuUs: number; busy: number }> {
  const t0 = cpuTicks(pid);
  const w0 = performance.now();
  const r = await load(url, opts);
  const ticks = cpuTicks(pid) - t0;
  const total = r.rps * (opts.duration ?? 5);
  return { ...r, cpuUs: total ? (ticks * 10_000) / total : 0, busy: ticks / 100 / ((performance.now() - w0) / 1000) };
}

export function table(rows: Record<string, string | number>[]): void {
  console.table(rows);
}
