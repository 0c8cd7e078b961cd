/**
 * Connection faults under load. The database is shared with other test files, so instead of
 * restarting the server we terminate every backend of the store under test (matched by its
 * per-schema application_name) — from the broker's side the same thing: every connection drops.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Subscription } from 'rxjs';
import { ChainVerifier, type NewEvent, type RecordedEvent } from '../../../core/index.js';
import { until } from './contract.js';
import { startFaultyProxy } from './pg-proxy.js';
import { PG_URL, dropSchema, freshSchema, openPg, pgUnavailable } from './pg-fixture.js';

const unavailable = await pgUnavailable();
const ev = (w: number, i: number): NewEvent => ({ type: 'AccountEnabled', data: { userId: `w${w}-${i}` } }) as NewEvent;

describe.skipIf(unavailable !== null)('PostgresEventStore under connection faults', () => {
  const schema = freshSchema();
  let admin: pg.Client;
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.end();
    await dropSchema(schema);
  });

  /** Terminates the backends whose application_name matches; returns how many. */
  const terminate = async (pattern: string): Promise<number> =>
    (
      await admin.query(
        `SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE $1) t`,
        [pattern],
      )
    ).rows[0].n;

  it('terminating every connection under load loses nothing, duplicates nothing, and the subscription resumes', async () => {
    const store = await openPg(schema, { poolMax: 6 });
    const got: RecordedEvent[] = [];
    let subErr: unknown = null;
    const sub: Subscription = store.subscribe(0).subscribe({ next: (e) => got.push(e), error: (e) => (subErr = e) });
    const written = new Map<string, string[]>();
    let running = true;
    let killed = 0;
    let rounds = 0;
    // A bounded number of kill rounds while the writers run (on a loaded machine an unbounded
    // killer could starve them: every round forces every connection to be re-established).
    const killer = (async () => {
      while (running && rounds < 25) {
        killed += await terminate(`%/${schema}`);
        rounds++;
        await new Promise((r) => setTimeout(r, 40)); // pacing of the fault injection, not a wait for a result
      }
    })();
    try {
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          const s = `writer-${w}`;
          const ids: string[] = [];
          written.set(s, ids);
          for (let i = 0; i < 30; i++) {
            // Exact expected revisions: a duplicate or a lost append would surface as a conflict.
            const r = await store.append(s, i % 5 === 0 ? [ev(w, i), ev(w, i + 1000)] : [ev(w, i)], {
              expectedRevision: ids.length === 0 ? 'no_stream' : ids.length - 1,
            });
            ids.push(...r.events.map((e) => e.id));
          }
        }),
      );
    } finally {
      running = false;
      await killer;
    }
    expect(rounds).toBeGreaterThan(2);
    expect(killed).toBeGreaterThan(0);

    const total = [...written.values()].reduce((n, ids) => n + ids.length, 0);
    for (const [s, ids] of written) {
      const stream = await store.readStream(s);
      expect(stream.map((e) => e.id)).toEqual(ids);
      expect(stream.map((e) => e.revision)).toEqual(ids.map((_, i) => i));
    }
    const all = await store.readAll({ limit: 10_000 });
    expect(all).toHaveLength(total);
    const v = new ChainVerifier();
    for (const e of all) v.check(e);
    expect(v.breaks).toEqual([]);

    await until(() => got.length >= total || subErr !== null, 'the subscription to deliver every event', 20_000);
    expect(subErr).toBeNull();
    expect(got.map((e) => e.id)).toEqual(all.map((e) => e.id));
    sub.unsubscribe();
    console.info(
      `faults: ${killed} backends terminated in ${rounds} rounds; ${total} events; ${store.recoveredCommits} commits recovered by id; listener connects ${store.listenerConnects}`,
    );
    await store.close();
  }, 90_000);

  it('a LISTEN connection dropped is re-established and the subscription catches up from its checkpoint without polling', async () => {
    // pollMs is far beyond the bound below: only the reconnected LISTEN (and its catch-up read) can deliver.
    const nodeA = await openPg(schema, { pollMs: 600_000 });
    const nodeB = await openPg(schema);
    const start = await nodeA.headPosition();
    const got: RecordedEvent[] = [];
    const sub = nodeA.subscribe(start).subscribe((e) => got.push(e));
    try {
      await until(() => nodeA.listenerConnects === 1, 'the listener to connect');
      await nodeB.append('from-b', [ev(0, 0)]);
      await until(() => got.length === 1, 'the first event from the other node');
      expect(await terminate(`identity-broker-listen/${schema}`)).toBeGreaterThan(0);
      // Written while A's listener is (probably) down: its notification is lost.
      await nodeB.append('from-b', [ev(0, 1)]);
      await until(() => nodeA.listenerConnects >= 2, 'the listener to reconnect', 10_000);
      await until(() => got.length === 2, 'the event written while the listener was away', 10_000);
      await nodeB.append('from-b', [ev(0, 2)]);
      await until(() => got.length === 3, 'a live event after the reconnect', 10_000);
      expect(got.map((e) => e.revision)).toEqual([0, 1, 2]);
    } finally {
      sub.unsubscribe();
      await nodeA.close();
      await nodeB.close();
    }
  });

  it('a COMMIT whose reply is lost is recognised by its event ids: the append succeeds once, not twice', async () => {
    const proxy = await startFaultyProxy(PG_URL);
    const store = await openPg(schema, { connectionString: proxy.url });
    try {
      const first = await store.append('uncertain', [ev(1, 0)], { expectedRevision: 'no_stream' });
      // The transparency tree follows each commit with a COMMIT of its own: let it finish, so the
      // COMMIT whose reply is cut is the append's.
      await store.tree!.catchUp();
      proxy.arm('after-commit');
      // Retrying blindly would now fail with WrongExpectedRevision (actual 1) or write a duplicate.
      const second = await store.append('uncertain', [ev(1, 1), ev(1, 2)], { expectedRevision: first.revision });
      expect(proxy.cuts).toBe(1);
      expect(store.recoveredCommits).toBe(1);
      expect(second.revision).toBe(2);
      const stream = await store.readStream('uncertain');
      expect(stream.map((e) => e.id)).toEqual([...first.events, ...second.events].map((e) => e.id));
      expect(second.events.map((e) => e.hash)).toEqual(stream.slice(1).map((e) => e.hash));
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  it('a connection lost before the insert reached the server is retried and writes the events once', async () => {
    const proxy = await startFaultyProxy(PG_URL);
    const store = await openPg(schema, { connectionString: proxy.url });
    try {
      proxy.arm('before-insert');
      const r = await store.append('lost-early', [ev(2, 0), ev(2, 1)], { expectedRevision: 'no_stream' });
      expect(proxy.cuts).toBe(1);
      expect(store.recoveredCommits).toBe(0);
      expect((await store.readStream('lost-early')).map((e) => e.id)).toEqual(r.events.map((e) => e.id));
    } finally {
      await store.close();
      await proxy.close();
    }
  });
});
