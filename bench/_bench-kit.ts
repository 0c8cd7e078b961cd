// Shared helpers for benchmarks: child processes, autocannon runs, table printing.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import os from 'node:os';
import autocannon from 'autocannon';

export function machine(): string {
  return `${os.cpus().length} cores ${os.cpus()[0]?.model ?? ''}, node ${process.version}`;
}

/** Starts a TypeScript child (through ts-node) and resolves with the first JSON line it prints. */
export async function startChild<T>(script: string, args: string[] = [], env: Record<string, string> = {}): Promise<{ child: ChildProcess; info: T }> {
  const child = spawn(process.execPath, ['--import', './adapters/cli/ts-register.mjs', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
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

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

export async function load(url: string, opts: { headers?: Record<string, string>; connections?: number; duration?: number; method?: 'GET' | 'POST'; body?: string } = {}): Promise<LoadResult> {
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

export function table(rows: Record<string, string | number>[]): void {
  console.table(rows);
}
