import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { Frontier, entryOf, leafHash, treeRoot, verifyLog, type EventStore, type NewEvent } from '../../../core/index.js';
import { dropSchema, freshSchema, openPg, pgUnavailable } from '../event-stores/pg-fixture.js';

const pgMissing = await pgUnavailable();

/** n events straight into the store (no HTTP): 100-event appends, 50 in flight (group commit). */
async function fill(store: EventStore, n: number): Promise<void> {
  const per = 100;
  const appends = Array.from({ length: n / per }, (_, i) => i);
  for (let i = 0; i < appends.length; i += 50) {
    await Promise.all(
      appends.slice(i, i + 50).map((a) =>
        store.append(
          `user-${a}`,
          Array.from({ length: per }, (_, k): NewEvent => ({ type: 'AccountEnabled', data: { userId: `u${a}`, k } })),
        ),
      ),
    );
  }
}

/** The tree recomputed from the log alone, compared with the stored one leaf by leaf and at the root. */
async function recompute(store: EventStore): Promise<{ size: number; rootMatches: boolean; leavesMatch: boolean }> {
  await store.tree!.size(); // PostgreSQL: the tree follows the log; catch up first
  const f = new Frontier();
  let after = 0;
  let leavesMatch = true;
  for (;;) {
    const page = await store.readAll({ after, limit: 5000 });
    const leaves = await store.tree!.leaves(f.size, page.length);
    page.forEach((e, i) => {
      const h = leafHash(entryOf(e.hash));
      if (!leaves[i] || leaves[i].position !== e.position || !leaves[i].hash.equals(h)) leavesMatch = false;
      f.append(h);
    });
    if (page.length < 5000) break;
    after = page[page.length - 1].position;
  }
  const size = await store.tree!.size();
  return { size, rootMatches: size === f.size && (await treeRoot(store.tree!, size)).equals(f.root()), leavesMatch };
}

describe('transparency tree at scale', () => {
  it('an untouched SQLite log of 100k events verifies against its tree', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlog-100k-'));
    const store = await SqliteEventStore.open({ path: path.join(dir, 'e.db'), synchronous: 'NORMAL' });
    try {
      await fill(store, 100_000);
      const size = await store.tree!.size();
      const claim = { label: 'checkpoint', size, root: await treeRoot(store.tree!, size) };
      const t0 = performance.now();
      const r = await verifyLog(store, [claim]);
      const ms = performance.now() - t0;
      console.log(`verifyLog: 100k SQLite events in ${ms.toFixed(0)} ms (${Math.round(100_000 / (ms / 1000))} events/s)`);
      expect(r.checked).toBe(100_000);
      expect(r.findings).toEqual([]);
      expect(r.chain.breaks).toEqual([]);
      expect(await recompute(store)).toEqual({ size: 100_000, rootMatches: true, leavesMatch: true });
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it.skipIf(pgMissing)(
    'an untouched PostgreSQL log of 100k events verifies against its tree',
    async () => {
      const schema = freshSchema();
      const store = await openPg(schema);
      try {
        await fill(store, 100_000);
        const size = await store.tree!.size();
        expect(size).toBe(100_000);
        const r = await verifyLog(store, [{ label: 'checkpoint', size, root: await treeRoot(store.tree!, size) }]);
        expect(r.checked).toBe(100_000);
        expect(r.findings).toEqual([]);
        expect(await recompute(store)).toEqual({ size: 100_000, rootMatches: true, leavesMatch: true });
      } finally {
        await store.close();
        await dropSchema(schema);
      }
    },
    180_000,
  );

  it.skipIf(pgMissing)(
    'two PostgreSQL store instances appending to the same streams at once keep one tree in position order',
    async () => {
      const schema = freshSchema();
      const a = await openPg(schema);
      const b = await openPg(schema);
      try {
        const run = (s: EventStore, tag: string) =>
          Promise.all(
            Array.from({ length: 400 }, (_, i) =>
              s.append(`shared-${i % 7}`, [
                { type: 'AccountEnabled', data: { userId: `${tag}${i}` } },
                { type: 'AccountDisabled', data: { userId: `${tag}${i}` } },
              ]),
            ),
          );
        await Promise.all([run(a, 'a'), run(b, 'b')]);
        const fromA = await recompute(a);
        const fromB = await recompute(b);
        expect(fromA).toEqual({ size: 1600, rootMatches: true, leavesMatch: true });
        expect(fromB).toEqual(fromA);
        const r = await verifyLog(a, []);
        expect(r.findings).toEqual([]);
        expect(r.chain.breaks).toEqual([]);
      } finally {
        await a.close();
        await b.close();
        await dropSchema(schema);
      }
    },
    60_000,
  );
});
