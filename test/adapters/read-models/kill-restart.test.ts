/**
 * Issue 15, faults: a broker process on a SQLite log is killed with SIGKILL during a burst of
 * writes, during a catch-up and during a rebuild. After each kill:
 * - the read database left behind is consistent: each projection's tables equal a fresh rebuild
 *   of the log up to that projection's own checkpoint (rows and checkpoint never apart);
 * - what was committed before the kill is still there (the checkpoint did not go back);
 * - a restart (the same boot as `broker start`, here in the test process) resumes, and then every
 *   core table (users, users_meta, sessions, bans, identities, audit, sites) equals, row by row,
 *   a fresh rebuild of the whole log into an in-memory read database. Nothing is excluded: session
 *   retention (7 days) cannot purge sessions this young.
 * - every write acknowledged before the kill is in the log and reflected in the rows.
 * The three phases share one data directory and run in order.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { openedStore } from '../../helpers/opened-store.js';
import type { EventStore } from '../../../core/index.js';
import { AuditView, UsersView } from '../../../core/index.js';
import { answering, spawnBroker, type BrokerProcess } from './broker-process.js';
import { CORE_PROJECTIONS, TABLES_OF, bootOnce, dumpFile, freshDump, poll, seedLog } from './read-fixture.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'read-kill-'));
const logFile = path.join(dir, 'broker.db');
const readFile = path.join(dir, 'broker.read.db');
const running: BrokerProcess[] = [];
afterAll(async () => {
  for (const b of running) if (b.child.exitCode === null) await b.kill9();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function withStore<T>(fn: (s: EventStore) => Promise<T>): Promise<T> {
  const store = await SqliteEventStore.open({ path: logFile, synchronous: 'NORMAL' });
  try {
    // Opened as the broker opens it (personal fields sealed per user in the log).
    return await fn(openedStore(store, { dataDir: dir }));
  } finally {
    await store.close();
  }
}

/** The file left by the kill: each projection's tables equal a replay up to its own checkpoint. */
async function expectConsistentAtCheckpoints(): Promise<
  Record<string, { position: number; rebuild_reason: string | null; version: number }>
> {
  const { tables, checkpoints, failures } = dumpFile(readFile);
  expect(failures).toEqual([]);
  const positions = new Set(CORE_PROJECTIONS.map((p) => checkpoints[p].position));
  await withStore(async (store) => {
    for (const at of positions) {
      const fresh = await freshDump(store, at);
      for (const p of CORE_PROJECTIONS.filter((x) => checkpoints[x].position === at))
        for (const t of TABLES_OF[p]) expect(tables[t], `${t} at checkpoint ${at}`).toEqual(fresh.tables[t]);
    }
  });
  return checkpoints;
}

/** Restarts on the same files (the boot `broker start` does), waits for the catch-up, stops. */
const restart = () => bootOnce(dir);

/** Every core table equals a fresh rebuild of the whole log; every checkpoint is the head. */
async function expectEqualToFreshRebuild(): Promise<{ tables: Record<string, unknown[]>; head: number }> {
  const fresh = await withStore((store) => freshDump(store));
  const { tables, checkpoints, failures } = dumpFile(readFile);
  for (const p of CORE_PROJECTIONS) expect(checkpoints[p], p).toMatchObject({ position: fresh.head, rebuild_reason: null });
  for (const [t, rows] of Object.entries(fresh.tables)) expect(tables[t], t).toEqual(rows);
  expect(failures).toEqual([]);
  return fresh;
}

/** Kills `b` once /readyz shows its projections between `from` and the head. */
async function killMidway(b: BrokerProcess, from: number): Promise<number> {
  await answering(b);
  const seen = await poll(
    '/readyz to show the catch-up under way',
    30_000,
    async () => {
      const r = await b.get('/readyz');
      if (r.status === 200) throw new Error('caught up before the kill');
      const { position, head } = r.body as { position: number; head: number };
      return position > from + 2000 && position < head - 5000 ? position : undefined;
    },
    2,
  );
  await b.kill9();
  return seen;
}

describe('read models survive kill -9', () => {
  it('during a burst of writes: acknowledged writes kept and reflected, rows equal a fresh rebuild', { timeout: 60_000 }, async () => {
    const b = await spawnBroker(dir, 'burst');
    running.push(b);
    await poll(
      '200 acknowledged writes',
      45_000,
      () => {
        if (b.child.exitCode !== null) throw new Error(b.output);
        return b.acks.length >= 200 ? true : undefined;
      },
      10,
    );
    await b.kill9();
    const acked = [...b.acks];
    expect(acked.some((a) => a.kind === 'ban')).toBe(true);

    // Acknowledged = in the log, at the position the command returned.
    await withStore(async (store) => {
      const types: Record<string, string> = {
        register: 'UserRegistered',
        link: 'ExternalIdentityLinked',
        login: 'LoginSucceeded',
        ban: 'UserBanned',
      };
      for (const a of acked) {
        const [e] = await store.readAll({ after: a.position - 1, limit: 1 });
        expect(e, `acked ${a.kind} at ${a.position}`).toMatchObject({
          position: a.position,
          type: types[a.kind],
          data: { userId: a.userId },
        });
      }
    });
    await expectConsistentAtCheckpoints();

    await restart();
    const fresh = await expectEqualToFreshRebuild();
    // Reflected: each acknowledged registration, identity and ban has its row.
    const users = new Set((fresh.tables.users as { user_id: string }[]).map((u) => u.user_id));
    const identities = new Set((fresh.tables.identities as { user_id: string }[]).map((u) => u.user_id));
    const bans = new Set((fresh.tables.bans as { position: number }[]).map((x) => x.position));
    for (const a of acked) {
      if (a.kind === 'register') expect(users.has(a.userId)).toBe(true);
      if (a.kind === 'link') expect(identities.has(a.userId)).toBe(true);
      if (a.kind === 'ban') expect(bans.has(a.position)).toBe(true);
    }
  });

  it(
    'during a catch-up: the committed progress is kept, the restart resumes, rows equal a fresh rebuild',
    { timeout: 60_000 },
    async () => {
      const before = dumpFile(readFile).checkpoints.users.position;
      await withStore((store) => seedLog(store, 30_000));
      const b = await spawnBroker(dir);
      running.push(b);
      const seen = await killMidway(b, before);

      const cps = await expectConsistentAtCheckpoints();
      // What the broker reported as applied was committed: the kill did not take it back.
      for (const p of CORE_PROJECTIONS) expect(cps[p].position, p).toBeGreaterThanOrEqual(seen);
      const logs = await restart();
      expect(
        logs.filter((l) => l.msg === 'projection rebuilds from the log'),
        'a catch-up resumes, it does not rebuild',
      ).toEqual([]);
      await expectEqualToFreshRebuild();
    },
  );

  it(
    'during a rebuild after a version change: the rebuild resumes where it was, rows equal a fresh rebuild',
    { timeout: 60_000 },
    async () => {
      // What a deploy whose UsersView and AuditView changed version finds: checkpoints of another version.
      const db = new Database(readFile);
      db.prepare(`UPDATE projection_checkpoints SET version = version + 1 WHERE name IN ('users', 'audit')`).run();
      db.close();

      const b = await spawnBroker(dir);
      running.push(b);
      const seen = await killMidway(b, 0);
      const rebuilt = b.logs.filter((l) => l.msg === 'projection rebuilds from the log').map((l) => [l.projection, l.reason]);
      expect(rebuilt.sort()).toEqual([
        ['audit', 'version changed'],
        ['users', 'version changed'],
      ]);

      const cps = await expectConsistentAtCheckpoints();
      const head = await withStore((s) => s.headPosition());
      const codeVersion: Record<string, number> = { users: new UsersView().version, audit: new AuditView().version };
      for (const p of ['users', 'audit']) {
        expect(cps[p].rebuild_reason, p).toBe('version changed');
        expect(cps[p].version, `${p}: the code's version is recorded when the tables are dropped`).toBe(codeVersion[p]);
        expect(cps[p].position).toBeGreaterThanOrEqual(seen);
        expect(cps[p].position).toBeLessThan(head);
      }
      for (const p of ['sessions', 'bans', 'identities', 'sites']) expect(cps[p]).toMatchObject({ position: head, rebuild_reason: null });

      const logs = await restart();
      // Resumed from its checkpoint: not dropped a second time.
      expect(logs.filter((l) => l.msg === 'projection rebuilds from the log')).toEqual([]);
      await expectEqualToFreshRebuild();
    },
  );
});
