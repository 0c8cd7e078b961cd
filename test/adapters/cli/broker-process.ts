import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from './run-cli.js';

export interface BrokerProcess {
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** The exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Resolves with the URL once the broker prints that it listens; rejects if it exits first. */
  listening: Promise<string>;
  /** SIGTERM, then SIGKILL if it has not exited within 20 s. */
  stop(): Promise<number | null>;
}

/** `broker start` as a real child process (TypeScript through ts-register), on a free port. */
export function spawnBroker(env: NodeJS.ProcessEnv, args: string[] = []): BrokerProcess {
  const child = spawn(process.execPath, ['--import', './adapters/cli/ts-register.mjs', 'adapters/cli/main.ts', 'start', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = new Promise<string>((resolve, reject) => {
    const seen = (b: Buffer) => {
      out += b.toString();
      const m = /broker listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', seen);
    void exited.then((code) => reject(new Error(`broker exited (${code}) before listening:\n${out}`)));
  });
  listening.catch(() => {}); // a test that expects the exit awaits `exited` instead
  return {
    child,
    output: () => out,
    exited,
    listening,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
