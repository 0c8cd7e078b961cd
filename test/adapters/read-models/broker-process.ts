/** A broker as a child process on a data directory: `broker start` itself, or the burst fixture. */
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from '../cli/run-cli.js';
import { freePort, poll } from './read-fixture.js';

export interface BrokerProcess {
  child: ChildProcess;
  url: string;
  /** JSON log lines the broker printed so far. */
  logs: Record<string, unknown>[];
  /** `ack <position> <kind> <userId>` lines (burst fixture). */
  acks: { position: number; kind: string; userId: string }[];
  exited: Promise<number | null>;
  readonly output: string;
  /** GET `path`: status and JSON body (null when not JSON); throws when nothing answers. */
  get(path: string): Promise<{ status: number; body: any; headers: Headers }>;
  kill9(): Promise<void>;
  /** SIGTERM, and waits for a clean exit. */
  stop(): Promise<void>;
}

export async function spawnBroker(dataDir: string, kind: 'start' | 'burst' = 'start'): Promise<BrokerProcess> {
  const port = await freePort();
  const script = kind === 'start' ? ['adapters/cli/main.ts', 'start'] : ['test/adapters/read-models/fixtures/burst-node.ts'];
  const child = spawn(process.execPath, ['--import', './adapters/cli/ts-register.mjs', ...script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), HOST: '127.0.0.1', BROKER_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const acks: BrokerProcess['acks'] = [];
  let output = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    output += d.toString();
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const l of lines) {
      if (l.startsWith('{')) logs.push(JSON.parse(l) as Record<string, unknown>);
      else if (l.startsWith('ack ')) {
        const [, position, k, userId] = l.split(' ');
        acks.push({ position: Number(position), kind: k, userId });
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const p: BrokerProcess = {
    child,
    url,
    logs,
    acks,
    exited,
    get output() {
      return output;
    },
    async get(path) {
      const r = await fetch(url + path);
      const text = await r.text();
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {
        /* an HTML page */
      }
      return { status: r.status, body, headers: r.headers };
    },
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000).unref())]);
      if (code === 'hung') {
        child.kill('SIGKILL');
        throw new Error(`broker did not stop on SIGTERM:\n${output.slice(-2000)}`);
      }
    },
  };
  return p;
}

/** Waits until the broker answers at all (it listens before catching up). */
export async function answering(b: BrokerProcess, ms = 30_000): Promise<void> {
  let exitedEarly = false;
  void b.exited.then(() => (exitedEarly = true));
  await poll('the broker to answer /healthz', ms, async () => {
    if (exitedEarly) throw new Error(`broker exited:\n${b.output.slice(-3000)}`);
    const r = await b.get('/healthz').catch(() => null);
    return r?.status === 200 ? true : undefined;
  }).catch((e: Error) => {
    throw exitedEarly ? new Error(`broker exited:\n${b.output.slice(-3000)}`) : e;
  });
}

/** Waits until /readyz says 200 (the projections have caught up). */
export async function ready(b: BrokerProcess, ms = 30_000): Promise<void> {
  await poll('/readyz to answer 200', ms, async () => ((await b.get('/readyz')).status === 200 ? true : undefined), 20);
}
