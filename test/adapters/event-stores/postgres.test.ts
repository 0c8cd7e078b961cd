import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChainVerifier, type NewEvent, type RecordedEvent } from '../../../core/index.js';
import type { PostgresEventStore } from '../../../adapters/event-stores/postgres.js';
import {
  InvalidSchemaName,
  LATEST_SCHEMA_VERSION,
  LOCK_CLASS_STREAMS,
  migrate,
} from '../../../adapters/event-stores/postgres-migrations.js';
import { runEventStoreContract, until } from './contract.js';
import { PG_URL, dropSchema, freshSchema, openPg, pgUnavailable } from './pg-fixture.js';

const unavailable = await pgUnavailable();

if (unavailable) {
  describe.skip(`EventStore contract: postgres (${unavailable})`, () => it('needs PostgreSQL', () => {}));
} else {
  // A fresh schema per test (the contract starts each test on an empty store), dropped after.
  runEventStoreContract('postgres', async () => {
    const schema = freshSchema();
    let store = await openPg(schema);
    const others: PostgresEventStore[] = [];
    return {
      store,
      another: async () => {
        others.push(await openPg(schema, { groupCommit: false }));
        return others[others.length - 1];
      },
      reopen: async () => {
        await store.close();
        store = await openPg(schema);
        return store;
      },
      cleanup: async () => {
        for (const o of others) await o.close();
        await store.close();
        await dropSchema(schema);
      },
    };
  });
}

describe.skipIf(unavailable !== null)('PostgresEventStore specifics', () => {
  const ev = (n: number): NewEvent => ({ type: 'AccountEnabled', data: { userId: `u${n}` } }) as NewEvent;
  let schema: string;
  let store: PostgresEventStore;
  let raw: pg.Client;
  beforeEach(async () => {
    schema = freshSchema();
    store = await openPg(schema);
    raw = new pg.Client({ connectionString: PG_URL });
    await raw.connect();
  });
  afterEach(async () => {
    await raw.end().catch(() => {});
    await store.close();
    await dropSchema(schema);
  });

  /** Starts an append the way the store does and leaves its transaction open (a slow committer). */
  async function openAppend(client: pg.Client, streamId: string): Promise<number> {
    await client.query('BEGIN');
    const r = await client.query(`SELECT first_position FROM "${schema}".append_begin($1, 1)`, [streamId]);
    const position = Number(r.rows[0].first_position);
    await client.query(
      `INSERT INTO "${schema}".events (position, tx, id, stream_id, revision, type, version, data, metadata, prev_hash, hash)
       VALUES ($1, pg_current_xact_id(), $2, $3, 0, 'AccountEnabled', 1, '{"userId":"slow"}', '{"recordedAt":"2024-01-01T00:00:00.000Z","actor":"system","correlationId":"c","causationId":null}', '', 'x')`,
      [position, randomUUID(), streamId],
    );
    return position;
  }

  it('readAll never moves past a position whose transaction is still committing', async () => {
    await store.append('before', [ev(0)]);
    const slowPos = await openAppend(raw, 'slow');
    const fast = await store.append('fast', [ev(1)]);
    expect(fast.position).toBeGreaterThan(slowPos);
    // The fast event is committed, but an earlier position is in flight: a reader must stop before it.
    const page = await store.readAll({ after: 0 });
    expect(page.map((e) => e.streamId)).toEqual(['before']);
    const got: RecordedEvent[] = [];
    const sub = store.subscribe(0).subscribe((e) => got.push(e));
    try {
      await until(() => got.length === 1, 'the first event');
      await raw.query('COMMIT');
      await until(() => got.length === 3, 'the held-back events once the slow transaction commits');
      expect(got.map((e) => e.streamId)).toEqual(['before', 'slow', 'fast']);
      expect(got.map((e) => e.position)).toEqual([...got.map((e) => e.position)].sort((a, b) => a - b));
    } finally {
      sub.unsubscribe();
    }
  });

  it('a writer killed mid-append leaves no torn state and holds nothing back afterwards', async () => {
    await store.append('s', [ev(0)]);
    const pid = Number((await raw.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    raw.on('error', () => {});
    const dead = await openAppend(raw, 's-killed');
    const later = store.append('s', [ev(1)], { expectedRevision: 0 });
    // pg_terminate_backend only signals the backend; wait until it is gone (its transaction rolled
    // back) so the reads below do not race the exit on a loaded machine.
    const admin = await store.pool.connect();
    try {
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      const deadline = Date.now() + 10_000;
      while ((await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount) {
        if (Date.now() > deadline) throw new Error(`backend ${pid} did not exit`);
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      admin.release();
    }
    const r = await later;
    expect(r.position).toBeGreaterThan(dead);
    expect(await store.readStream('s-killed')).toEqual([]);
    const all = await store.readAll();
    expect(all.map((e) => e.revision)).toEqual([0, 1]);
    const v = new ChainVerifier();
    for (const e of all) v.check(e);
    expect(v.breaks).toEqual([]);
  });

  it('migrates once: versions recorded, concurrent opens of a new schema agree, reopening applies nothing', async () => {
    const s2 = freshSchema();
    try {
      const opened = await Promise.all([openPg(s2), openPg(s2), openPg(s2)]);
      await opened[0].append('x', [ev(1)]);
      expect((await opened[2].readStream('x')).length).toBe(1);
      await Promise.all(opened.map((o) => o.close()));
      const rows = (await raw.query(`SELECT version FROM "${s2}".schema_migrations ORDER BY version`)).rows;
      expect(rows.map((r) => r.version)).toEqual(Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1));
      await raw.query(`INSERT INTO "${s2}".schema_migrations (version, name) VALUES (999, 'from the future')`);
      await expect(openPg(s2)).rejects.toThrow(/newer than this build knows/);
    } finally {
      await dropSchema(s2);
    }
  });

  it('group commit: concurrent appends share transactions, each keeps its own outcome', async () => {
    await store.append('taken', [ev(0)]);
    const before = { ...store.committer!.stats };
    const results = await Promise.allSettled([
      ...Array.from({ length: 60 }, (_, i) => store.append(`g-${i}`, [ev(i), ev(i + 1)], { expectedRevision: 'no_stream' })),
      store.append('taken', [ev(1)], { expectedRevision: 'no_stream' }),
    ]);
    expect(results.slice(0, 60).every((r) => r.status === 'fulfilled')).toBe(true);
    expect(results[60]).toMatchObject({ status: 'rejected', reason: { name: 'WrongExpectedRevision', actual: 0 } });
    const batches = store.committer!.stats.batches - before.batches;
    expect(batches).toBeLessThan(60);
    const all = await store.readAll();
    expect(all).toHaveLength(121);
    const v = new ChainVerifier();
    for (const e of all) v.check(e);
    expect(v.breaks).toEqual([]);
  });

  it('two stores racing to create the same streams: exactly one append wins each, none is lost', async () => {
    const other = await openPg(schema);
    try {
      const streams = Array.from({ length: 30 }, (_, i) => `race-${i}`);
      const results = await Promise.allSettled(
        streams.flatMap((s, i) => [store, other].map((st, k) => st.append(s, [ev(i * 10 + k)], { expectedRevision: 'no_stream' }))),
      );
      for (let i = 0; i < streams.length; i++) {
        const pair = results.slice(2 * i, 2 * i + 2);
        expect(pair.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(pair.find((r) => r.status === 'rejected')).toMatchObject({ reason: { name: 'WrongExpectedRevision', actual: 0 } });
        expect(await store.readStream(streams[i])).toHaveLength(1);
      }
      // And 'any' appends racing on new streams all land, chained.
      await Promise.all(streams.flatMap((s) => [store, other].map((st, k) => st.append(`${s}-any`, [ev(k)]))));
      for (const s of streams) expect((await store.readStream(`${s}-any`)).map((e) => e.revision)).toEqual([0, 1]);
    } finally {
      await other.close();
    }
  });

  it('upgrades a schema left at version 2: append_begin and append_begin_many lock the stream before reserving', async () => {
    const s2 = freshSchema();
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      await migrate(c, s2, { upTo: 2 });
      const upgraded = await openPg(s2);
      await upgraded.close();
      const pid = Number((await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
      const rows = (await raw.query(`SELECT version FROM "${s2}".schema_migrations ORDER BY version`)).rows;
      expect(rows.map((r) => r.version)).toContain(3);
      // An append's stream lock (a transaction-level advisory lock) is held until COMMIT.
      const streamLocks = async (): Promise<number> =>
        Number(
          (
            await raw.query(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND pid = $2 AND granted`, [
              LOCK_CLASS_STREAMS,
              pid,
            ])
          ).rows[0].n,
        );
      await c.query('BEGIN');
      await c.query(`SELECT * FROM "${s2}".append_begin('one', 1)`);
      expect(await streamLocks()).toBe(1);
      await c.query('ROLLBACK');
      await c.query('BEGIN');
      await c.query(`SELECT * FROM "${s2}".append_begin_many(ARRAY['a', 'b', 'a'], 3)`);
      expect(await streamLocks()).toBe(2);
      await c.query('ROLLBACK');
      expect(await streamLocks()).toBe(0);
    } finally {
      await c.end();
      await dropSchema(s2);
    }
  });

  it('refuses a schema name it would have to quote', async () => {
    await expect(openPg('Robert"; DROP TABLE x; --')).rejects.toBeInstanceOf(InvalidSchemaName);
  });
});
