import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import Database from 'better-sqlite3';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { openEventStore } from '../../../adapters/event-stores/open.js';
import { ChainVerifier, type EventStore, type NewEvent, type RecordedEvent } from '../../../core/index.js';
import { runEventStoreContract, until } from './contract.js';

const tempDb = (): { dir: string; file: string } => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-store-'));
  return { dir, file: path.join(dir, 'events.db') };
};

for (const synchronous of ['FULL', 'NORMAL'] as const) {
  runEventStoreContract(`sqlite (${synchronous})`, async () => {
    const { dir, file } = tempDb();
    const opened: EventStore[] = [await SqliteEventStore.open({ path: file, synchronous })];
    return {
      store: opened[0],
      reopen: async () => {
        await opened[opened.length - 1].close();
        opened.push(await SqliteEventStore.open({ path: file, synchronous }));
        return opened[opened.length - 1];
      },
      another: async () => {
        opened.push(await SqliteEventStore.open({ path: file, synchronous }));
        return opened[opened.length - 1];
      },
      cleanup: async () => {
        for (const s of opened) await s.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}

const ev = (n: number): NewEvent => ({ type: 'AccountEnabled', data: { userId: `u${n}` } });

describe('SqliteEventStore specifics', () => {
  it('group commit: appends of one tick share a transaction, a conflicting one fails alone', async () => {
    const { dir, file } = tempDb();
    const store = await SqliteEventStore.open({ path: file });
    try {
      await store.append('s-0', [ev(0)]);
      const db = new Database(file, { readonly: true });
      const dataVersion = (): number => db.pragma('data_version', { simple: true }) as number;
      const before = dataVersion();
      const results = await Promise.allSettled([
        ...Array.from({ length: 50 }, (_, i) => store.append(`s-${i + 1}`, [ev(i)], { expectedRevision: 'no_stream' })),
        store.append('s-0', [ev(99)], { expectedRevision: 3 }),
        store.append('s-0', [ev(100)], { expectedRevision: 0 }),
        store.append('s-0', [ev(101)], { expectedRevision: 1 }), // sees the in-transaction revision 1
      ]);
      // data_version changes once per commit by another connection: one transaction for all 53.
      expect(dataVersion() - before).toBe(1);
      db.close();
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(52);
      expect(results[50]).toMatchObject({ status: 'rejected', reason: { name: 'WrongExpectedRevision', actual: 0 } });
      expect((await store.readStream('s-0')).map((e) => (e.data as { userId: string }).userId)).toEqual(['u0', 'u100', 'u101']);
      const positions = (await store.readAll({ limit: 100 })).map((e) => e.position);
      expect(positions).toEqual(Array.from({ length: 53 }, (_, i) => i + 1));
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a duplicate event id fails its own append only (savepoint), not the group', async () => {
    const { dir, file } = tempDb();
    const store = await SqliteEventStore.open({ path: file });
    try {
      await store.append('a', [{ ...ev(1), id: 'dup' }]);
      const [bad, good] = await Promise.allSettled([store.append('b', [ev(2), { ...ev(3), id: 'dup' }]), store.append('c', [ev(4)])]);
      expect(bad.status).toBe('rejected');
      expect(good.status).toBe('fulfilled');
      expect(await store.readStream('b')).toEqual([]);
      expect(await store.headPosition()).toBe(2);
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a subscription sees appends made by another process (another connection) through polling', async () => {
    const { dir, file } = tempDb();
    const broker = await SqliteEventStore.open({ path: file, pollMs: 20 });
    const cli = await SqliteEventStore.open({ path: file });
    try {
      const got: RecordedEvent[] = [];
      const sub = broker.subscribe().subscribe((e) => got.push(e));
      await broker.append('x', [ev(1)]);
      await cli.append('x', [ev(2)], { expectedRevision: 0 });
      await cli.append('y', [ev(3)]);
      await until(() => got.length === 3, 'events written by the other connection');
      // The broker's next append continues after the other writer's head and chain.
      const r = await broker.append('x', [ev(4)], { expectedRevision: 1 });
      expect(r.position).toBe(4);
      await until(() => got.length === 4, 'the broker own append');
      sub.unsubscribe();
      const v = new ChainVerifier();
      for (const e of got) v.check(e);
      expect(v.breaks).toEqual([]);
    } finally {
      await cli.close();
      await broker.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('close writes appends still queued, then refuses new ones', async () => {
    const { dir, file } = tempDb();
    const store = await SqliteEventStore.open({ path: file });
    const pending = store.append('q', [ev(1)]);
    await store.close();
    await expect(pending).resolves.toMatchObject({ revision: 0 });
    await expect(store.append('q', [ev(2)])).rejects.toMatchObject({ name: 'EventStoreClosed' });
    const again = await SqliteEventStore.open({ path: file });
    expect(await again.readStream('q')).toHaveLength(1);
    await again.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an edited row is caught by ChainVerifier after reading it back', async () => {
    const { dir, file } = tempDb();
    const store = await SqliteEventStore.open({ path: file });
    await store.append('t', [ev(1), ev(2), ev(3)]);
    await store.close();
    const db = new Database(file);
    db.prepare(`UPDATE events SET data = ? WHERE stream_id = 't' AND revision = 1`).run(JSON.stringify({ userId: 'mallory' }));
    db.close();
    const reopened = await SqliteEventStore.open({ path: file });
    const v = new ChainVerifier();
    for (const e of await reopened.readAll()) v.check(e);
    expect(v.breaks).toMatchObject([{ streamId: 't', revision: 1, problem: 'hash_mismatch' }]);
    await reopened.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('openEventStore opens the SQLite store at <dataDir>/broker.db by default, in WAL mode', async () => {
    const { dir } = tempDb();
    const store = await openEventStore({ kind: 'sqlite' }, path.join(dir, 'data'));
    try {
      expect(store.kind).toBe('sqlite');
      await store.append('o', [ev(1)]);
      const db = new Database(path.join(dir, 'data', 'broker.db'), { readonly: true });
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.prepare('SELECT count(*) FROM events').pluck().get()).toBe(1);
      db.close();
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
