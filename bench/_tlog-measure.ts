// The transparency log's costs, for `npm run bench -- store` (issue 18): durable commands with the
// tree on vs off (same run, alternated), `audit verify` (verifyLog) over a generated log, and
// proof generation over trees of growing size built straight into SQLite (synthetic leaves).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteEventStore } from '../adapters/event-stores/sqlite.js';
import { SqliteTree } from '../adapters/event-stores/sqlite-tree.js';
import { LogAuditor, proveConsistency, proveInclusion, treeRoot, verifyLog, type EventStore } from '../core/index.js';
import { generateLog, measureCommands, type Rate } from './_store-measure.js';

/** Commands/s with the tree off and on, alternated twice on fresh files: the best of each. */
export async function measureTreeCost(dir: string): Promise<{ off: Rate; on: Rate }> {
  const best: { off?: Rate; on?: Rate } = {};
  for (let round = 0; round < 2; round++) {
    for (const tree of [false, true]) {
      const store = await SqliteEventStore.open({ path: path.join(dir, `tree-${tree}-${round}.db`), synchronous: 'FULL', tree });
      const r = await measureCommands(store, { users: 1000, commands: 10_000, concurrency: 50 });
      await store.close();
      const k = tree ? 'on' : 'off';
      if (!best[k] || r.perSec > best[k].perSec) best[k] = r;
    }
  }
  return { off: best.off!, on: best.on! };
}

/**
 * verifyLog over `events` generated events: hash chains + tree comparison + a checkpoint claim;
 * and the tree's share alone (stored leaves read, each event's leaf recomputed, compared and folded).
 */
export async function measureVerify(dir: string, events: number): Promise<{ all: Rate; treeOnly: Rate }> {
  const store: EventStore = await SqliteEventStore.open({ path: path.join(dir, 'verify.db'), synchronous: 'NORMAL' });
  try {
    const n = await generateLog(store, events);
    const size = await store.tree!.size();
    const claim = { label: 'checkpoint', size, root: await treeRoot(store.tree!, size) };
    const t0 = performance.now();
    const r = await verifyLog(store, [claim]);
    const ms = performance.now() - t0;
    if (r.firstPosition !== null || r.checked !== n) throw new Error('the generated log did not verify');
    const page = await store.readAll({ limit: n });
    const t1 = performance.now();
    const leaves = await store.tree!.leaves(0, n);
    const auditor = new LogAuditor([claim], true);
    page.forEach((e, i) => auditor.check(e, leaves[i]));
    if (auditor.finish(undefined).length) throw new Error('tree-only check found something');
    const ms1 = performance.now() - t1;
    return { all: { count: n, ms, perSec: (n * 1000) / ms }, treeOnly: { count: n, ms: ms1, perSec: (n * 1000) / ms1 } };
  } finally {
    await store.close();
  }
}

export interface ProofTiming {
  size: number;
  buildSeconds: number;
  inclusionMs: number;
  consistencyMs: number;
}

/**
 * Builds one tree up to each size in `sizes` (synthetic event hashes, the store's own tree code,
 * 50k leaves per transaction) and times 200 inclusion and 200 consistency proofs at each size.
 */
export async function measureProofs(dir: string, sizes: number[]): Promise<ProofTiming[]> {
  const file = path.join(dir, 'proofs.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -65536');
  const tree = new SqliteTree(db);
  const out: ProofTiming[] = [];
  let built = 0;
  const t0 = performance.now();
  try {
    for (const size of sizes) {
      while (built < size) {
        const n = Math.min(50_000, size - built);
        const batch = Array.from({ length: n }, (_, i) => ({ position: built + i + 1, hash: randomBytes(32).toString('hex') }));
        db.transaction(() => tree.appendEvents(batch))();
        built += n;
      }
      const buildSeconds = (performance.now() - t0) / 1000;
      const pick = () => Math.floor(Math.random() * size);
      let t = performance.now();
      for (let i = 0; i < 200; i++) await proveInclusion(tree, pick(), size);
      const inclusionMs = (performance.now() - t) / 200;
      t = performance.now();
      for (let i = 0; i < 200; i++) await proveConsistency(tree, 1 + pick(), size);
      const consistencyMs = (performance.now() - t) / 200;
      out.push({ size, buildSeconds, inclusionMs, consistencyMs });
      console.error(
        `  proofs at ${size.toLocaleString('en-US')} leaves: inclusion ${inclusionMs.toFixed(3)} ms, consistency ${consistencyMs.toFixed(3)} ms (tree built in ${buildSeconds.toFixed(1)} s)`,
      );
    }
  } finally {
    db.close();
    fs.rmSync(file, { force: true });
  }
  return out;
}
