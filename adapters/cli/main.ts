#!/usr/bin/env node
// `broker <command> ...`: the operator CLI's process entry (bin/broker.js runs this, built or not).
import { runCli } from './cli.js';
import type { CliIo } from './io.js';

function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    stopSignal: new Promise((resolve) => {
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve(sig));
    }),
  };
}

const code = await runCli(process.argv.slice(2), processIo());
// Let stdout flush (a piped export) before exiting with the code.
process.exitCode = code;
if (process.stdout.writableNeedDrain) await new Promise((r) => process.stdout.once('drain', r));
process.exit(code);
