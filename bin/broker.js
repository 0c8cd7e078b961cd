#!/usr/bin/env node
// The `broker` command. Runs the compiled CLI (dist/, from `npm run build`) when there is one,
// else the TypeScript source through ts-node, so `npx broker ...` works in a fresh clone too.
import fs from 'node:fs';
import path from 'node:path';
import { register } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = path.join(root, 'dist', 'adapters', 'cli', 'main.js');

if (fs.existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  // What adapters/cli/ts-register.mjs does, anchored at the repo rather than the working directory.
  process.env.TS_NODE_PROJECT ??= path.join(root, 'tsconfig.json');
  register('ts-node/esm', pathToFileURL(root + path.sep));
  await import(pathToFileURL(path.join(root, 'adapters', 'cli', 'main.ts')).href);
}
