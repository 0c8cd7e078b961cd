import { Writable } from 'node:stream';
import type { CliIo } from '../../../adapters/cli/io.js';

export interface CapturedIo extends CliIo {
  output(): string;
  errors(): string;
}

class Capture extends Writable {
  text = '';
  isTTY = false;
  columns = 80;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** An in-process CliIo that records what a command prints. */
export function captureIo(env: NodeJS.ProcessEnv, cwd: string, stopSignal: Promise<string> = new Promise(() => {})): CapturedIo {
  const stdout = new Capture();
  const stderr = new Capture();
  return { stdout, stderr, env, cwd, stopSignal, output: () => stdout.text, errors: () => stderr.text };
}
