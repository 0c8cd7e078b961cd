/** Starts broker nodes as child processes on one PostgreSQL schema and talks to them over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export class NodeError extends Error {
  constructor(
    readonly node: string,
    readonly error: { name: string; message: string; code?: string },
  ) {
    super(`${node}: ${error.name}: ${error.message}`);
    this.name = 'NodeError';
  }
}

export interface BrokerNode {
  name: string;
  child: ChildProcess;
  /** Work items a `flood` has completed so far. */
  progress: number;
  call<T = Record<string, unknown>>(op: string, args?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

/** `script`: the node's program (default node-process.ts); `extra` joins its JSON argument. */
export async function startNode(
  name: string,
  url: string,
  schema: string,
  script = 'node-process.ts',
  extra: Record<string, unknown> = {},
): Promise<BrokerNode> {
  const child = fork(path.join(ROOT, 'test/adapters/multi-node', script), [JSON.stringify({ url, schema, name, ...extra })], {
    cwd: ROOT,
    execArgv: ['--import', './adapters/cli/ts-register.mjs'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 1;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`node ${name} did not start within 60 s`)), 60_000);
    child.once('exit', (code) => reject(new Error(`node ${name} exited during start (code ${code})`)));
    child.on(
      'message',
      (m: {
        ready?: boolean;
        progress?: number;
        id?: number;
        ok?: boolean;
        result?: unknown;
        error?: { name: string; message: string };
      }) => {
        if (m.ready) {
          clearTimeout(t);
          resolve();
          return;
        }
        if (m.progress !== undefined) {
          node.progress = m.progress;
          return;
        }
        const p = pending.get(m.id!);
        if (!p) return;
        pending.delete(m.id!);
        if (m.ok) p.resolve(m.result);
        else p.reject(new NodeError(name, m.error!));
      },
    );
  });
  child.once('exit', () => {
    for (const p of pending.values()) p.reject(new Error(`node ${name} exited`));
    pending.clear();
  });
  const call = <T>(op: string, args: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = next++;
      if (!child.connected) return reject(new Error(`node ${name} is gone`));
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, op, args }, (err) => {
        if (!err) return;
        pending.delete(id);
        reject(err);
      });
    });
  const node: BrokerNode = {
    name,
    child,
    progress: 0,
    call,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null || !child.connected) return;
      await Promise.race([call('stop').catch(() => {}), exited]);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
  return node;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
