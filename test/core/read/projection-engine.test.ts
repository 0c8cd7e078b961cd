import { describe, it, expect } from 'vitest';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import {
  ProjectionEngine,
  type PersistedProjection,
  type ReadDatabase,
  type ReadStatement,
  type RecordedEvent,
} from '../../../core/index.js';
import { memoryReadDb } from '../../helpers/read-db.js';

/** Counts events per type; throws on events whose data says `poison`. */
class Counter implements PersistedProjection {
  readonly name = 'test.counter';
  readonly tables = ['test_counter'];
  private put!: ReadStatement;
  private read!: ReadStatement<{ n: number }>;
  constructor(readonly version = 1) {}
  open(db: ReadDatabase): void {
    db.exec(`CREATE TABLE IF NOT EXISTS test_counter (type TEXT PRIMARY KEY, n INTEGER NOT NULL)`);
    this.put = db.prepare(`INSERT INTO test_counter (type, n) VALUES (?, 1) ON CONFLICT (type) DO UPDATE SET n = n + 1`);
    this.read = db.prepare(`SELECT n FROM test_counter WHERE type = ?`);
  }
  apply(e: RecordedEvent): void {
    this.put.run(e.type);
    if ((e.data as { poison?: boolean }).poison) throw new Error('cannot apply this one');
  }
  count(type: string): number {
    return this.read.get(type)?.n ?? 0;
  }
}

async function seed(store: MemoryEventStore, n: number, extra: { poisonAt?: number } = {}): Promise<void> {
  for (let i = 1; i <= n; i++)
    await store.append(`s-${i % 7}`, [
      { type: 'SessionRefreshed', data: { sessionId: `s${i}`, userId: 'u', i, poison: i === extra.poisonAt }, metadata: { actor: 't' } },
    ]);
}

describe('ProjectionEngine with persisted projections', () => {
  it('resumes from its checkpoint on the same read database, applying only the tail', async () => {
    const store = new MemoryEventStore();
    const db = memoryReadDb();
    await seed(store, 50);
    const a = new ProjectionEngine(db);
    const c1 = new Counter();
    a.add(c1);
    expect(await a.prepare(store)).toBe(0);
    a.start(store);
    await a.waitFor(50);
    a.stop();
    expect(c1.count('SessionRefreshed')).toBe(50);

    await seed(store, 10);
    const b = new ProjectionEngine(db);
    const c2 = new Counter();
    b.add(c2);
    expect(await b.prepare(store)).toBe(50);
    b.start(store);
    await b.waitFor(60);
    b.stop();
    expect(c2.count('SessionRefreshed')).toBe(60); // not 110: the first 50 were not applied twice
  });

  it('rebuilds a projection whose version changed, from the log, and reports why', async () => {
    const store = new MemoryEventStore();
    const db = memoryReadDb();
    await seed(store, 20);
    const a = new ProjectionEngine(db);
    a.add(new Counter(1));
    await a.prepare(store);
    a.start(store);
    await a.waitFor(20);
    a.stop();

    const b = new ProjectionEngine(db);
    const reasons: string[] = [];
    b.onRebuild = (name, reason) => reasons.push(`${name}: ${reason}`);
    const c = new Counter(2);
    b.add(c);
    expect(await b.prepare(store)).toBe(0);
    expect(b.status()[0].rebuild).toEqual({ reason: 'version changed', target: 20 });
    b.start(store);
    await b.waitFor(20);
    b.stop();
    expect(reasons).toEqual(['test.counter: version changed']);
    expect(c.count('SessionRefreshed')).toBe(20);
    expect(b.status()[0].rebuild).toBeNull();
  });

  it('quarantines a projection on the event it throws on: others go on, it stops just before, a retry request catches it up', async () => {
    const store = new MemoryEventStore();
    const db = memoryReadDb();
    await seed(store, 30, { poisonAt: 12 });
    const e = new ProjectionEngine(db);
    const c = new Counter();
    const other = new Counter();
    Object.assign(other, { name: 'test.other', poisonless: true });
    other.apply = function (ev: RecordedEvent) {
      (this as unknown as { put: ReadStatement }).put.run(`other:${ev.type}`);
    };
    const failures: number[] = [];
    e.onFailure = (f) => failures.push(f.position);
    e.add(c);
    e.add(other);
    await e.prepare(store);
    e.start(store);
    await e.waitFor(30);
    expect(failures).toEqual([12]);
    expect(c.count('SessionRefreshed')).toBe(11); // stopped before the poison event; its partial write rolled back
    expect(other.count('other:SessionRefreshed')).toBe(30); // the other projection went on
    expect(db.prepare('SELECT name, position, stream_id, type FROM projection_quarantine').all()).toEqual([
      { name: 'test.counter', position: 12, stream_id: 's-5', type: 'SessionRefreshed' },
    ]);
    expect(e.status()[0]).toMatchObject({
      checkpoint: 11,
      failures: 1,
      quarantined: { component: 'test.counter', position: 12, type: 'SessionRefreshed' },
    });
    e.stop();

    // A restart on the same file keeps it held (it does not meet the event again).
    const e2 = new ProjectionEngine(db);
    const c2 = new Counter();
    e2.add(c2);
    await e2.prepare(store);
    e2.start(store);
    await seed(store, 2);
    await e2.waitFor(32);
    expect(e2.quarantines().map((q) => q.position)).toEqual([12]);
    expect(c2.count('SessionRefreshed')).toBe(11);

    // The fix: the poison no longer throws; a retry request in the log releases and catches it up.
    c2.apply = function (ev: RecordedEvent) {
      (this as unknown as { put: ReadStatement }).put.run(ev.type);
    };
    const released: string[] = [];
    e2.onRelease = (n) => released.push(n);
    const { position } = await store.append('component-test.counter', [
      { type: 'ComponentRetryRequested', data: { component: 'test.counter' }, metadata: { actor: 't' } },
    ]);
    await e2.waitFor(position);
    for (let i = 0; i < 200 && (e2.checkpointOf('test.counter') < position || e2.quarantines().length); i++)
      await new Promise((r) => setTimeout(r, 10));
    e2.stop();
    expect(released).toEqual(['test.counter']);
    expect(e2.quarantines()).toEqual([]);
    expect(c2.count('SessionRefreshed')).toBe(32);
    expect(e2.checkpointOf('test.counter')).toBe(position);
    expect(db.prepare('SELECT count(*) AS n FROM projection_quarantine').get()).toEqual({ n: 0 });
  });

  it('takes up a retry requested while the broker was down, at the next start', async () => {
    const store = new MemoryEventStore();
    const db = memoryReadDb();
    await seed(store, 20, { poisonAt: 5 });
    const e1 = new ProjectionEngine(db);
    e1.add(new Counter());
    await e1.prepare(store);
    e1.start(store);
    await e1.waitFor(20);
    e1.stop();
    expect(e1.quarantines()).toHaveLength(1);

    await store.append('component-test.counter', [
      { type: 'ComponentRetryRequested', data: { component: 'test.counter' }, metadata: { actor: 'cli:op' } },
    ]);
    const e2 = new ProjectionEngine(db);
    const fixed = new Counter();
    fixed.apply = function (ev: RecordedEvent) {
      (this as unknown as { put: ReadStatement }).put.run(ev.type);
    };
    e2.add(fixed);
    expect(await e2.prepare(store)).toBe(20); // where the engine was when it was held, not back at its checkpoint (4)
    e2.start(store);
    for (let i = 0; i < 200 && (e2.quarantines().length || e2.checkpointOf('test.counter') < 21); i++)
      await new Promise((r) => setTimeout(r, 10));
    e2.stop();
    expect(e2.quarantines()).toEqual([]);
    expect(fixed.count('SessionRefreshed')).toBe(20);
  });

  it('quarantines a memory projection the same way: a restart replays it up to the event and holds it there', async () => {
    const store = new MemoryEventStore();
    const db = memoryReadDb();
    await seed(store, 10, { poisonAt: 6 });
    const memo = () => {
      const m = {
        name: 'test.memo',
        checkpoint: 0,
        seen: [] as number[],
        broken: true,
        reset() {},
        apply(ev: RecordedEvent) {
          if (ev.type !== 'SessionRefreshed') return;
          if (m.broken && (ev.data as { poison?: boolean }).poison) throw new Error('memo cannot');
          m.seen.push(ev.position);
        },
      };
      return m;
    };
    const m1 = memo();
    const e1 = new ProjectionEngine(db);
    e1.add(m1);
    await e1.prepare(store);
    e1.start(store);
    await e1.waitFor(10);
    e1.stop();
    expect(m1.seen).toEqual([1, 2, 3, 4, 5]);
    expect(e1.quarantines()).toEqual([expect.objectContaining({ component: 'test.memo', position: 6 })]);

    const m2 = memo();
    const e2 = new ProjectionEngine(db);
    e2.add(m2);
    await e2.prepare(store);
    e2.start(store);
    await e2.waitFor(10);
    expect(m2.seen).toEqual([1, 2, 3, 4, 5]); // replayed up to the event, not into it
    m2.broken = false;
    await store.append('component-test.memo', [
      { type: 'ComponentRetryRequested', data: { component: 'test.memo' }, metadata: { actor: 't' } },
    ]);
    for (let i = 0; i < 200 && m2.seen.length < 10; i++) await new Promise((r) => setTimeout(r, 10));
    e2.stop();
    expect(m2.seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(e2.quarantines()).toEqual([]);
  });

  it('detects a checkpoint past the log (an older log restored) and a different log at the checkpoint', async () => {
    const db = memoryReadDb();
    const newer = new MemoryEventStore();
    await seed(newer, 40);
    const a = new ProjectionEngine(db);
    a.add(new Counter());
    await a.prepare(newer);
    a.start(newer);
    await a.waitFor(40);
    a.stop();

    const older = new MemoryEventStore();
    await seed(older, 25);
    const b = new ProjectionEngine(db);
    const c = new Counter();
    b.add(c);
    expect(await b.prepare(older)).toBe(0);
    expect(b.status()[0].rebuild?.reason).toBe('checkpoint ahead of the log');
    b.start(older);
    await b.waitFor(25);
    b.stop();
    expect(c.count('SessionRefreshed')).toBe(25);

    const other = new MemoryEventStore(); // same head, other events: hashes differ at the checkpoint
    for (let i = 0; i < 25; i++) await other.append('x', [{ type: 'SiteRemoved', data: { siteId: `x${i}` }, metadata: { actor: 't' } }]);
    const d = new ProjectionEngine(db);
    d.add(new Counter());
    expect(await d.prepare(other)).toBe(0);
    expect(d.status()[0].rebuild?.reason).toBe('log differs at the checkpoint');
  });

  it('stalls without skipping when the read database refuses writes, and catches up on retry', async () => {
    const store = new MemoryEventStore();
    const db = memoryReadDb();
    await seed(store, 5);
    const e = new ProjectionEngine(db);
    const c = new Counter();
    e.add(c);
    await e.prepare(store);
    e.start(store);
    await e.waitFor(5);
    db.exec('PRAGMA query_only = 1'); // every write now fails as SQLITE_READONLY, as a full disk would fail
    const errors: unknown[] = [];
    e.onError = (err) => errors.push(err);
    await seed(store, 3);
    await expect.poll(() => errors.length, { timeout: 2000 }).toBeGreaterThan(0);
    expect(e.stalled).not.toBeNull();
    expect(e.position).toBe(5);
    db.exec('PRAGMA query_only = 0');
    expect(e.retry()).toBe(true);
    expect(e.stalled).toBeNull();
    expect(e.position).toBe(8);
    expect(c.count('SessionRefreshed')).toBe(8);
    e.stop();
  });
});
