/**
 * Issue 15: a read database that does not belong to the log beside it is detected and rebuilt,
 * never trusted. (1) An older copy of broker.db restored beside a newer read database: every
 * checkpoint is past the log's head. (2) The read database of another log whose head is the same or
 * further: every checkpoint is within the log, but the events there are not the same (the hash). Both: every projection is
 * rebuilt, logged with its reason, and the rows equal a fresh rebuild of the log that is there.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { CORE_PROJECTIONS, bootOnce, dumpFile, freshDump, seedLog } from './read-fixture.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'read-foreign-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function withStore<T>(dir: string, fn: (s: SqliteEventStore) => Promise<T>): Promise<T> {
  const store = await SqliteEventStore.open({ path: path.join(dir, 'broker.db'), synchronous: 'NORMAL' });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

const runBroker = (dir: string) => bootOnce(dir, { noPlugins: true }); // the core read models are what this is about

const rebuilds = (logs: Record<string, unknown>[]): Record<string, unknown> =>
  Object.fromEntries(logs.filter((l) => l.msg === 'projection rebuilds from the log').map((l) => [l.projection, l.reason]));

async function expectEqualToFreshRebuild(dir: string): Promise<void> {
  const fresh = await withStore(dir, (s) => freshDump(s));
  const { tables, checkpoints, failures } = dumpFile(path.join(dir, 'broker.read.db'));
  for (const p of CORE_PROJECTIONS) expect(checkpoints[p], p).toMatchObject({ position: fresh.head, rebuild_reason: null });
  for (const [t, rows] of Object.entries(fresh.tables)) expect(tables[t], t).toEqual(rows);
  expect(failures).toEqual([]);
}

it('an older broker.db restored beside a newer read database: checkpoints ahead of the log, rebuilt', { timeout: 60_000 }, async () => {
  const dir = path.join(root, 'restore');
  await withStore(dir, (s) => seedLog(s, 3000));
  await runBroker(dir);
  fs.copyFileSync(path.join(dir, 'broker.db'), path.join(root, 'backup.db')); // closed: no WAL left beside it
  expect(fs.existsSync(path.join(dir, 'broker.db-wal'))).toBe(false);

  await withStore(dir, (s) => seedLog(s, 3000));
  expect(rebuilds(await runBroker(dir))).toEqual({});
  const newer = dumpFile(path.join(dir, 'broker.read.db'));

  // The operator restores yesterday's log; the read database stays as it was.
  fs.copyFileSync(path.join(root, 'backup.db'), path.join(dir, 'broker.db'));
  const head = await withStore(dir, (s) => s.headPosition());
  for (const p of CORE_PROJECTIONS) expect(newer.checkpoints[p].position).toBeGreaterThan(head);

  const logs = await runBroker(dir);
  expect(rebuilds(logs)).toEqual(
    Object.fromEntries([...CORE_PROJECTIONS, 'master-key-check'].map((p) => [p, 'checkpoint ahead of the log'])),
  );
  await expectEqualToFreshRebuild(dir);
});

it.each([
  ['the same head', 0],
  ['a longer log', 500],
])('the read database of another log (%s): the hash at the checkpoint differs, rebuilt', { timeout: 60_000 }, async (name, extra) => {
  const a = path.join(root, `a-${extra}`);
  const b = path.join(root, `b-${extra}`);
  await withStore(a, (s) => seedLog(s, 2000));
  await runBroker(a);
  const headA = await withStore(a, (s) => s.headPosition());
  const cpsA = dumpFile(path.join(a, 'broker.read.db')).checkpoints;
  for (const p of CORE_PROJECTIONS) expect(cpsA[p].position).toBe(headA);

  // Another log (other users, other ids) of the same length or longer, then A's read database beside it.
  await withStore(b, async (s) => {
    let head = await seedLog(s, headA - 300);
    while (head < headA + extra)
      head = (await s.append('pad', [{ type: 'UserProfileUpdated', data: { userId: 'nobody', name: `pad ${head}` } }])).position;
  });
  expect(await withStore(b, (s) => s.headPosition()), name).toBe(headA + extra);
  fs.copyFileSync(path.join(a, 'broker.read.db'), path.join(b, 'broker.read.db'));

  const logs = await runBroker(b);
  expect(rebuilds(logs)).toEqual(
    Object.fromEntries([...CORE_PROJECTIONS, 'master-key-check'].map((p) => [p, 'log differs at the checkpoint'])),
  );
  await expectEqualToFreshRebuild(b);
  // Nothing of A's users survived in B's rows.
  const users = dumpFile(path.join(b, 'broker.read.db')).tables.users as { user_id: string }[];
  const usersA = new Set((dumpFile(path.join(a, 'broker.read.db')).tables.users as { user_id: string }[]).map((u) => u.user_id));
  expect(users.filter((u) => usersA.has(u.user_id))).toEqual([]);
});

it('a read database beside an empty log (a new schema, a wrong path) is dropped, and says so', { timeout: 60_000 }, async () => {
  const dir = path.join(root, 'empty');
  await withStore(dir, (s) => seedLog(s, 500));
  await runBroker(dir);
  fs.rmSync(path.join(dir, 'broker.db'));
  const logs = await runBroker(dir);
  // Every projection that had rows warns that they go, even though there is nothing to rebuild.
  expect(rebuilds(logs)).toEqual(
    Object.fromEntries([...CORE_PROJECTIONS, 'master-key-check'].map((p) => [p, 'checkpoint ahead of the log'])),
  );
  await expectEqualToFreshRebuild(dir);
});
