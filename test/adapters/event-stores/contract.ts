/**
 * The EventStore contract: one suite every adapter runs unchanged (memory, SQLite, PostgreSQL,
 * EventStoreDB). Positions are only required to be strictly increasing in append order, not dense
 * (EventStoreDB's are not), so "no gap" is asserted as "every appended event is delivered".
 */
import { describe, it, expect } from 'vitest';
import type { Subscription } from 'rxjs';
import {
  ChainVerifier,
  ImportBreaksChain,
  WrongExpectedRevision,
  sealEvents,
  eventHash,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type RecordedEvent,
} from '../../../core/index.js';

export interface ContractFixture {
  store: EventStore;
  /** Durable stores: close (if still open) and open the same storage again. */
  reopen?: () => Promise<EventStore>;
  /** Shared stores: another instance on the same storage, as a second node would open it (closed by cleanup). */
  another?: () => Promise<EventStore>;
  cleanup: () => Promise<void>;
}

/** Polls `cond` until true or the bound is reached; never a fixed sleep. */
export async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const ev = (n: number, extra: Partial<NewEvent> = {}): NewEvent =>
  ({ type: 'AccountEnabled', data: { userId: `u${n}` }, ...extra }) as NewEvent;

const uniq = (prefix: string): string => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

async function readEverything(store: EventStore, limit = 1000): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await store.readAll({ after, limit });
    out.push(...page);
    if (page.length < limit) return out;
    after = page[page.length - 1].position;
  }
}

async function expectConflict(p: Promise<unknown>, expected: ExpectedRevision, actual: number): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WrongExpectedRevision);
  expect(err).toMatchObject({ expected, actual });
}

export function runEventStoreContract(name: string, make: () => Promise<ContractFixture>): void {
  describe(`EventStore contract: ${name}`, () => {
    /** Runs `body` with a fresh store and always cleans up (also when the body throws). */
    const withStore = async (body: (f: ContractFixture) => Promise<void>): Promise<void> => {
      const f = await make();
      try {
        await body(f);
      } finally {
        await f.cleanup();
      }
    };

    it('starts empty', () =>
      withStore(async ({ store }) => {
        expect(await store.headPosition()).toBe(0);
        expect(await store.readAll()).toEqual([]);
        expect(await store.readStream(uniq('none'))).toEqual([]);
      }));

    it("expected revision 'no_stream': creates a stream, refuses an existing one with its actual revision", () =>
      withStore(async ({ store }) => {
        const s = uniq('s');
        const r = await store.append(s, [ev(1), ev(2)], { expectedRevision: 'no_stream' });
        expect(r.revision).toBe(1);
        expect(r.events.map((e) => e.revision)).toEqual([0, 1]);
        await expectConflict(store.append(s, [ev(3)], { expectedRevision: 'no_stream' }), 'no_stream', 1);
        expect(await store.readStream(s)).toHaveLength(2);
      }));

    it("expected revision 'stream_exists': refuses a missing stream (actual -1), appends to an existing one", () =>
      withStore(async ({ store }) => {
        const s = uniq('s');
        await expectConflict(store.append(s, [ev(1)], { expectedRevision: 'stream_exists' }), 'stream_exists', -1);
        expect(await store.readStream(s)).toEqual([]);
        await store.append(s, [ev(1)]);
        const r = await store.append(s, [ev(2)], { expectedRevision: 'stream_exists' });
        expect(r.revision).toBe(1);
      }));

    it('expected revision as a number: exact match appends, anything else conflicts with the actual revision', () =>
      withStore(async ({ store }) => {
        const s = uniq('s');
        await expectConflict(store.append(s, [ev(1)], { expectedRevision: 0 }), 0, -1);
        await store.append(s, [ev(1), ev(2), ev(3)], { expectedRevision: 'no_stream' });
        await expectConflict(store.append(s, [ev(4)], { expectedRevision: 1 }), 1, 2);
        await expectConflict(store.append(s, [ev(4)], { expectedRevision: 3 }), 3, 2);
        const r = await store.append(s, [ev(4)], { expectedRevision: 2 });
        expect(r.revision).toBe(3);
        expect((await store.readStream(s)).map((e) => (e.data as { userId: string }).userId)).toEqual(['u1', 'u2', 'u3', 'u4']);
      }));

    it('reads a stream from a revision, at most maxCount events', () =>
      withStore(async ({ store }) => {
        const s = uniq('s');
        await store.append(s, [ev(1), ev(2), ev(3), ev(4)]);
        const ids = (es: { data: unknown }[]) => es.map((e) => (e.data as { userId: string }).userId);
        expect(ids(await store.readStream(s, { fromRevision: 1, maxCount: 2 }))).toEqual(['u2', 'u3']);
        expect(ids(await store.readStream(s, { fromRevision: 3, maxCount: 5 }))).toEqual(['u4']);
        expect(ids(await store.readStream(s, { fromRevision: 2 }))).toEqual(['u3', 'u4']);
        expect(await store.readStream(s, { maxCount: 0 })).toEqual([]);
      }));

    it("expected revision 'any' (and omitted): always appends", () =>
      withStore(async ({ store }) => {
        const s = uniq('s');
        expect((await store.append(s, [ev(1)], { expectedRevision: 'any' })).revision).toBe(0);
        expect((await store.append(s, [ev(2)])).revision).toBe(1);
        expect((await store.append(s, [ev(3)], { expectedRevision: 'any' })).revision).toBe(2);
      }));

    it('a failed append writes nothing (all or none)', () =>
      withStore(async ({ store }) => {
        const s = uniq('s');
        await store.append(s, [ev(1)]);
        const head = await store.headPosition();
        await expectConflict(store.append(s, [ev(2), ev(3), ev(4)], { expectedRevision: 5 }), 5, 0);
        expect(await store.headPosition()).toBe(head);
        expect(await store.readStream(s)).toHaveLength(1);
      }));

    it('concurrent appends to one stream with the same expected revision: exactly one wins', () =>
      withStore(async ({ store }) => {
        const s = uniq('s');
        await store.append(s, [ev(0)]);
        const results = await Promise.allSettled(
          Array.from({ length: 12 }, (_, i) => store.append(s, [ev(i + 1), ev(i + 100)], { expectedRevision: 0 })),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(11);
        for (const l of lost) {
          expect(l.reason).toBeInstanceOf(WrongExpectedRevision);
          expect(l.reason).toMatchObject({ expected: 0, actual: 2 });
        }
        const events = await store.readStream(s);
        expect(events.map((e) => e.revision)).toEqual([0, 1, 2]);
        // The two events of the winner are together, never interleaved with a loser's.
        expect((events[2].data as { userId: string }).userId).toBe(
          `u${Number((events[1].data as { userId: string }).userId.slice(1)) + 99}`,
        );
      }));

    it('appends to one stream from two instances (two nodes): global position rises with revision, chains verify', () =>
      withStore(async (f) => {
        // Two nodes appending to one stream at once: each append must take its positions after it
        // holds the stream, or revision n+1 can land before revision n in global order (issue 17).
        const other = f.another ? await f.another() : f.store;
        const s = uniq('shared');
        // Writers on each node append one after another without a barrier, so the two nodes'
        // transactions overlap all the time (a barrier per round lets group commit line them up).
        const writers = 8;
        const perWriter = 90;
        await Promise.all(
          [f.store, other].flatMap((st, node) =>
            Array.from({ length: writers }, async (_, w) => {
              for (let i = 0; i < perWriter; i++) await st.append(s, i % 3 ? [ev(node * 1000 + w * 100 + i)] : [ev(i), ev(i)]);
            }),
          ),
        );
        const all = await readEverything(f.store);
        const v = new ChainVerifier();
        for (const e of all) v.check(e);
        expect(v.breaks).toEqual([]);
        const mine = all.filter((e) => e.streamId === s);
        expect(mine.map((e) => e.revision)).toEqual(mine.map((_, i) => i));
        expect(mine).toHaveLength(2 * writers * (perWriter + perWriter / 3));
      }));

    it('importEvents (bulk copy): writes recorded events unchanged after the head, refuses one that does not continue its stream, all or none', () =>
      withStore(async ({ store }) => {
        if (!store.importEvents) return; // optional: copied into by appends instead
        const a = uniq('a');
        await store.append(a, [ev(1)]);
        const [head] = await store.readStream(a);
        const before = await store.headPosition();
        const b = uniq('b');
        const fromA = sealEvents(a, [ev(2), ev(3)], 0, head.hash, 1);
        const fromB = sealEvents(b, [ev(4)], -1, '', 1);
        const batch = [fromA[0], fromB[0], fromA[1]];
        const last = await store.importEvents(batch);
        const all = await readEverything(store);
        expect(all.slice(1).map((e) => ({ ...e, position: 0 }))).toEqual(batch.map((e) => ({ ...e, position: 0 })));
        expect(all.slice(1).every((e, i) => e.position > (i ? all[i].position : before))).toBe(true);
        expect(last).toBe(all[3].position);
        const v = new ChainVerifier();
        for (const e of all) v.check(e);
        expect(v.breaks).toEqual([]);
        // Appends go on from the imported heads.
        expect((await store.append(a, [ev(5)], { expectedRevision: 2 })).events[0].prevHash).toBe(fromA[1].hash);
        // A gap, a replayed revision, a wrong prevHash: refused, and nothing of the batch is written.
        const c = uniq('c');
        const fresh = sealEvents(c, [ev(6)], -1, '', 1);
        for (const bad of [
          sealEvents(b, [ev(7)], 1, fromB[0].hash, 1),
          sealEvents(b, [ev(7)], -1, '', 1),
          sealEvents(b, [ev(7)], 0, 'x', 1),
        ]) {
          const headNow = await store.headPosition();
          await expect(store.importEvents([...fresh, ...bad])).rejects.toBeInstanceOf(ImportBreaksChain);
          expect(await store.headPosition()).toBe(headNow);
          expect(await store.readStream(c)).toEqual([]);
        }
      }));

    it("concurrent 'no_stream' claims (reservations): exactly one wins", () =>
      withStore(async ({ store }) => {
        const s = uniq('email');
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) =>
            store.append(s, [{ type: 'ReservationClaimed', data: { key: 'k', userId: `u${i}` } }], { expectedRevision: 'no_stream' }),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ name: 'WrongExpectedRevision', actual: 0 });
        expect(await store.readStream(s)).toHaveLength(1);
      }));

    it('concurrent appends to distinct streams all succeed, a conflicting one fails alone', () =>
      withStore(async ({ store }) => {
        const streams = Array.from({ length: 20 }, () => uniq('c'));
        const bad = uniq('bad');
        await store.append(bad, [ev(0)]);
        const results = await Promise.allSettled([
          ...streams.map((s, i) => store.append(s, [ev(i), ev(i + 1)], { expectedRevision: 'no_stream' })),
          store.append(bad, [ev(9)], { expectedRevision: 7 }),
        ]);
        expect(results.slice(0, 20).every((r) => r.status === 'fulfilled')).toBe(true);
        expect(results[20]).toMatchObject({ status: 'rejected', reason: { name: 'WrongExpectedRevision', actual: 0 } });
        for (const s of streams) expect((await store.readStream(s)).map((e) => e.revision)).toEqual([0, 1]);
      }));

    it('global positions strictly increase in append order; readAll returns that order', () =>
      withStore(async ({ store }) => {
        const a = uniq('a');
        const b = uniq('b');
        const written: RecordedEvent[] = [];
        let lastPos = 0;
        for (let i = 0; i < 15; i++) {
          const r = await store.append(i % 3 === 0 ? a : b, i % 2 ? [ev(i)] : [ev(i), ev(i + 1000)]);
          expect(r.position).toBe(r.events[r.events.length - 1].position);
          for (const e of r.events) {
            expect(e.position).toBeGreaterThan(lastPos);
            lastPos = e.position;
          }
          written.push(...r.events);
        }
        expect(await store.headPosition()).toBe(lastPos);
        const all = await readEverything(store);
        expect(all.map((e) => e.id)).toEqual(written.map((e) => e.id));
        expect(all.map((e) => e.position)).toEqual(written.map((e) => e.position));
      }));

    it('readStream from a revision and readAll paging with after/limit', () =>
      withStore(async ({ store }) => {
        const s = uniq('s');
        const other = uniq('o');
        for (let i = 0; i < 10; i++) {
          await store.append(s, [ev(i)]);
          await store.append(other, [ev(i)]);
        }
        expect((await store.readStream(s, { fromRevision: 6 })).map((e) => e.revision)).toEqual([6, 7, 8, 9]);
        expect((await store.readStream(s, { fromRevision: 0 })).map((e) => e.revision)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        expect(await store.readStream(s, { fromRevision: 10 })).toEqual([]);
        const all = await readEverything(store, 1000);
        expect(all).toHaveLength(20);
        const paged = await readEverything(store, 3);
        expect(paged.map((e) => e.id)).toEqual(all.map((e) => e.id));
        const mid = all[7].position;
        const page = await store.readAll({ after: mid, limit: 4 });
        expect(page.map((e) => e.id)).toEqual(all.slice(8, 12).map((e) => e.id));
        expect(await store.readAll({ after: all[19].position })).toEqual([]);
      }));

    it('subscribe: history then live with concurrent writers, no gap, no duplicate, in order', () =>
      withStore(async ({ store }) => {
        const streams = Array.from({ length: 5 }, () => uniq('w'));
        const ids: string[] = [];
        for (let i = 0; i < 40; i++) ids.push(...(await store.append(streams[i % 5], [ev(i), ev(i)])).events.map((e) => e.id));
        const got: RecordedEvent[] = [];
        let subErr: unknown = null;
        const sub: Subscription = store.subscribe(0).subscribe({ next: (e) => got.push(e), error: (e) => (subErr = e) });
        try {
          // Writers race the catch-up: some appends land while history is still being delivered.
          await Promise.all(
            streams.map(async (s, w) => {
              for (let i = 0; i < 30; i++) {
                const r = await store.append(s, i % 4 === 0 ? [ev(i), ev(i), ev(i)] : [ev(w * 100 + i)]);
                ids.push(...r.events.map((e) => e.id));
                if (i % 7 === 0) await new Promise((r2) => setImmediate(r2));
              }
            }),
          );
          await until(() => got.length >= ids.length || subErr !== null, 'subscription to deliver every event');
          expect(subErr).toBeNull();
          expect(got).toHaveLength(ids.length);
          expect(new Set(got.map((e) => e.id)).size).toBe(got.length);
          expect(new Set(got.map((e) => e.id))).toEqual(new Set(ids));
          for (let i = 1; i < got.length; i++) expect(got[i].position).toBeGreaterThan(got[i - 1].position);
          // And it stays live.
          const last = await store.append(streams[0], [ev(999)]);
          await until(() => got.length === ids.length + 1, 'a live event after catch-up');
          expect(got[got.length - 1].id).toBe(last.events[0].id);
        } finally {
          sub.unsubscribe();
        }
      }));

    it('subscribe(after) starts strictly after the given position', () =>
      withStore(async ({ store }) => {
        const s = uniq('s');
        const r = await store.append(s, [ev(1), ev(2), ev(3), ev(4)]);
        const got: RecordedEvent[] = [];
        const sub = store.subscribe(r.events[1].position).subscribe((e) => got.push(e));
        try {
          await until(() => got.length >= 2, 'events after the cursor');
          await store.append(s, [ev(5)]);
          await until(() => got.length >= 3, 'the live event');
          expect(got.map((e) => e.revision)).toEqual([2, 3, 4]);
        } finally {
          sub.unsubscribe();
        }
      }));

    it('hash chain: every stream chains from "" and verifies with ChainVerifier', () =>
      withStore(async ({ store }) => {
        const a = uniq('a');
        const b = uniq('b');
        for (let i = 0; i < 6; i++) {
          await store.append(a, [ev(i)]);
          await store.append(b, [ev(i), ev(i + 1)]);
        }
        const all = await readEverything(store);
        const v = new ChainVerifier();
        for (const e of all) v.check(e);
        expect(v.breaks).toEqual([]);
        expect(v.checked).toBe(18);
        const sa = await store.readStream(a);
        expect(sa[0].prevHash).toBe('');
        for (let i = 1; i < sa.length; i++) expect(sa[i].prevHash).toBe(sa[i - 1].hash);
        for (const e of all) expect(eventHash(e)).toBe(e.hash);
      }));

    it('ChainVerifier catches an edited event read back from the store', () =>
      withStore(async ({ store }) => {
        const s = uniq('s');
        await store.append(s, [ev(1), ev(2), ev(3)]);
        const events = await store.readStream(s);
        const v = new ChainVerifier();
        v.check(events[0]);
        v.check({ ...events[1], data: { userId: 'someone-else' } });
        v.check(events[2]);
        expect(v.breaks).toHaveLength(1);
        expect(v.breaks[0]).toMatchObject({ streamId: s, revision: 1, problem: 'hash_mismatch' });
      }));

    it('empty appends write nothing, return the current revision, and still check the expected revision', () =>
      withStore(async ({ store }) => {
        const s = uniq('s');
        const r0 = await store.append(s, []);
        expect(r0.revision).toBe(-1);
        expect(r0.events).toEqual([]);
        expect(await store.headPosition()).toBe(0);
        await store.append(s, [ev(1), ev(2)]);
        const head = await store.headPosition();
        const r1 = await store.append(s, [], { expectedRevision: 1 });
        expect(r1.revision).toBe(1);
        expect(r1.events).toEqual([]);
        await expectConflict(store.append(s, [], { expectedRevision: 0 }), 0, 1);
        await expectConflict(store.append(s, [], { expectedRevision: 'no_stream' }), 'no_stream', 1);
        expect(await store.headPosition()).toBe(head);
      }));

    it('ids and metadata round-trip unchanged (readStream, readAll, subscribe)', () =>
      withStore(async ({ store }) => {
        const s = uniq('s');
        const metadata = {
          recordedAt: '2024-05-06T07:08:09.123Z',
          actor: 'admin:42',
          correlationId: 'corr-1',
          causationId: 'cause-1',
          ip: '203.0.113.9',
          nested: { userAgent: 'Mozilla/5.0 “quoted” ünïcode', list: [1, 2.5, null, true] },
        };
        const id = '0191b2c3-0000-7000-8000-000000000001';
        const r = await store.append(s, [ev(1, { id, metadata })]);
        expect(r.events[0].id).toBe(id);
        const [fromStream] = await store.readStream(s);
        const [fromAll] = await store.readAll();
        const got: RecordedEvent[] = [];
        const sub = store.subscribe(0).subscribe((e) => got.push(e));
        try {
          await until(() => got.length === 1, 'the subscribed event');
        } finally {
          sub.unsubscribe();
        }
        for (const e of [fromStream, fromAll, got[0]]) {
          expect(e).toEqual(r.events[0]);
          expect(e.metadata).toEqual(metadata);
        }
        // Defaults filled in when the caller gives none.
        const d = (await store.append(s, [ev(2)])).events[0];
        expect(d.metadata.actor).toBe('system');
        expect(d.metadata.causationId).toBeNull();
        expect(typeof d.metadata.correlationId).toBe('string');
        expect(Number.isNaN(Date.parse(d.metadata.recordedAt))).toBe(false);
        expect((await store.readStream(s))[1]).toEqual(d);
      }));

    it('events of unknown types and versions are stored and read back unchanged', () =>
      withStore(async ({ store }) => {
        const s = uniq('plugin');
        const data = { deep: { a: [1, { b: 'x' }], empty: {}, n: -0.5, big: 9007199254740991 }, s: 'line\nbreak\u0000nul\u{1F600}' };
        const r = await store.append(s, [{ type: 'SomePluginThingHappened', version: 3, data } as unknown as NewEvent]);
        const [back] = await store.readStream(s);
        expect(back.type).toBe('SomePluginThingHappened');
        expect(back.version).toBe(3);
        expect(back.data).toEqual(data);
        expect(back).toEqual(r.events[0]);
        const v = new ChainVerifier();
        v.check(back);
        expect(v.breaks).toEqual([]);
      }));

    it('close completes open subscriptions', () =>
      withStore(async (f) => {
        await f.store.append(uniq('s'), [ev(1)]);
        let completed = false;
        let errored: unknown = null;
        const got: RecordedEvent[] = [];
        f.store.subscribe(0).subscribe({ next: (e) => got.push(e), complete: () => (completed = true), error: (e) => (errored = e) });
        await until(() => got.length === 1, 'the first event');
        await f.store.close();
        await until(() => completed || errored !== null, 'the subscription to complete');
        expect(errored).toBeNull();
        expect(completed).toBe(true);
      }));

    it('reopening a durable store shows everything and continues the chains', async () => {
      const f = await make();
      if (!f.reopen) {
        await f.cleanup();
        return; // not durable (memory): nothing to reopen
      }
      try {
        const a = uniq('a');
        const b = uniq('b');
        await f.store.append(a, [ev(1), ev(2)]);
        await f.store.append(b, [{ type: 'UnknownToEveryone', version: 7, data: { x: 1 } } as unknown as NewEvent]);
        await f.store.append(a, [ev(3, { metadata: { actor: 'cli:ops', ip: '::1' } })]);
        const before = await readEverything(f.store);
        const head = await f.store.headPosition();
        const reopened = await f.reopen();
        expect(await reopened.headPosition()).toBe(head);
        expect(await readEverything(reopened)).toEqual(before);
        expect(await reopened.readStream(a)).toEqual(before.filter((e) => e.streamId === a));
        await expectConflict(reopened.append(a, [ev(4)], { expectedRevision: 1 }), 1, 2);
        const r = await reopened.append(a, [ev(4)], { expectedRevision: 2 });
        expect(r.revision).toBe(3);
        expect(r.position).toBeGreaterThan(head);
        const v = new ChainVerifier();
        for (const e of await readEverything(reopened)) v.check(e);
        expect(v.breaks).toEqual([]);
        expect(v.checked).toBe(5);
      } finally {
        await f.cleanup();
      }
    });
  });
}
