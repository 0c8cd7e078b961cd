// Lets `node --import ./adapters/cli/ts-register.mjs file.ts` run TypeScript directly
// (ts-node's ESM loader, transpile-only as set in tsconfig.json). Used by the CLI in
// development, by tests that spawn the broker as a child process, and by benchmarks.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
register('ts-node/esm', pathToFileURL('./'));
