import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

/** One fenced code block of a Markdown file. */
export interface CodeBlock {
  lang: string;
  /** `runnable=<file name>`: the test writes the block to that file and runs it. */
  runnable: string | null;
  /** `fragment`: an excerpt that cannot run on its own (said so in the info string). */
  fragment: boolean;
  code: string;
  /** 1-based line of the opening fence, for messages. */
  line: number;
}

/** The top-level ``` fenced blocks of a Markdown file, with their info strings read. */
export function readBlocks(file: string): CodeBlock[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [lang = '', ...words] = open[1].trim().split(/\s+/);
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`${file}:${i + 1}: unclosed code fence`);
    const runnable = words.find((w) => w.startsWith('runnable='))?.slice('runnable='.length) ?? null;
    out.push({ lang, runnable, fragment: words.includes('fragment'), code: lines.slice(i + 1, end).join('\n') + '\n', line: i + 1 });
    i = end;
  }
  return out;
}

/**
 * A scratch directory holding the runnable blocks as the files they name, next to a
 * `node_modules` link to this repository's (so `fastify`, `jose`, `standardwebhooks` resolve as
 * they would in a site that installed them) and a package.json making .js files ES modules.
 */
export function writeScratch(blocks: CodeBlock[], extra: Record<string, string> = {}): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'downstream-guide-'));
  fs.symlinkSync(path.resolve('node_modules'), path.join(dir, 'node_modules'), 'dir');
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  for (const b of blocks) {
    if (!b.runnable) continue;
    if (!/^[\w.-]+$/.test(b.runnable)) throw new Error(`line ${b.line}: runnable=${b.runnable} is not a plain file name`);
    const target = path.join(dir, b.runnable);
    if (fs.existsSync(target)) throw new Error(`line ${b.line}: two blocks are runnable=${b.runnable}`);
    fs.writeFileSync(target, b.code);
  }
  for (const [name, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, name), text);
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Whether a working `python3` (3.9 or later: the examples use str.removeprefix) is on the PATH. */
export function havePython(): boolean {
  const r = spawnSync('python3', ['-c', 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)'], {
    stdio: 'ignore',
    timeout: 10_000,
  });
  return r.status === 0;
}

/** Runs test/docs/guide-driver.py over the examples in `dir`: one process, every case at once. */
export function runPython<T>(dir: string, input: unknown): T {
  const r = spawnSync('python3', [path.resolve('test/docs/guide-driver.py'), dir], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (r.status !== 0) throw new Error(`python3 failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
