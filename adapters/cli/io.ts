import type { Writable } from 'node:stream';

/** What a command may touch of the outside world: injected so tests can run commands in-process too. */
export interface CliIo {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM); used by `start`. */
  stopSignal: Promise<string>;
}

export function out(io: CliIo, line = ''): void {
  io.stdout.write(line + '\n');
}

export function err(io: CliIo, line = ''): void {
  io.stderr.write(line + '\n');
}

/** Writes a chunk and waits for the stream to drain when its buffer is full (large exports). */
export async function writeChunk(stream: Writable, chunk: string): Promise<void> {
  if (!stream.write(chunk)) await new Promise<void>((resolve) => stream.once('drain', resolve));
}

/** Wrong arguments: exit 2 with the message and the command's usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The command ran and found something wrong (tampered log, unknown user): exit 1. */
export class CommandFailed extends Error {
  override readonly name = 'CommandFailed';
}

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
