// catchUpSubscription against a hand-driven source: the interleavings that matter (an append
// while a page is being read, appends no one announces, errors, unsubscribe) made deterministic.
import { describe, it, expect } from 'vitest';
import { catchUpSubscription, sealEvents, type CatchUpSource, type NewEvent, type RecordedEvent } from '../../../core/index.js';
import { until } from '../../adapters/event-stores/contract.js';

class Source implements CatchUpSource {
  log: RecordedEvent[] = [];
  listeners = new Set<() => void>();
  closed = false;
  reads = 0;
  gate: Promise<void> | null = null;
  failNext: Error | null = null;
  constructor(public pollMs?: number) {}

  add(n: number, announce = true): void {
    for (let i = 0; i < n; i++) {
      const e = sealEvents(
        's',
        [{ type: 'AccountEnabled', data: { userId: 'u' } } as NewEvent],
        this.log.length - 1,
        this.log.at(-1)?.hash ?? '',
        this.log.length + 1,
      )[0];
      this.log.push(e);
    }
    if (announce) for (const l of this.listeners) l();
  }
  async readPage(after: number, limit: number): Promise<RecordedEvent[]> {
    this.reads++;
    if (this.failNext) throw this.failNext;
    // Snapshot first, then wait: models a read whose result is fixed before later appends commit.
    const page = this.log.slice(after, after + limit);
    if (this.gate) await this.gate;
    return page;
  }
  onAppend(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  isClosed(): boolean {
    return this.closed;
  }
}

const positions = (es: RecordedEvent[]): number[] => es.map((e) => e.position);
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('catchUpSubscription', () => {
  it('pages through history, then goes live; an append during a read is neither lost nor doubled', async () => {
    const src = new Source();
    src.add(12);
    let open!: () => void;
    src.gate = new Promise((r) => (open = r));
    const got: RecordedEvent[] = [];
    const sub = catchUpSubscription(src, 0, 5).subscribe((e) => got.push(e));
    // The first page read is in flight; these appends are announced while it is.
    src.add(3);
    src.gate = null;
    open();
    await until(() => got.length === 15, 'history and the appends made during the read');
    expect(positions(got)).toEqual(range(1, 15));
    src.add(2);
    await until(() => got.length === 17, 'live events');
    expect(positions(got)).toEqual(range(1, 17));
    sub.unsubscribe();
    src.add(1);
    await new Promise((r) => setImmediate(r));
    expect(got).toHaveLength(17);
    expect(src.listeners.size).toBe(0);
  });

  it('starts after the given position', async () => {
    const src = new Source();
    src.add(10);
    const got: RecordedEvent[] = [];
    const sub = catchUpSubscription(src, 7).subscribe((e) => got.push(e));
    await until(() => got.length === 3, 'events after 7');
    expect(positions(got)).toEqual([8, 9, 10]);
    sub.unsubscribe();
  });

  it('polls for appends nobody announces (another process)', async () => {
    const src = new Source(5);
    const got: RecordedEvent[] = [];
    const sub = catchUpSubscription(src).subscribe((e) => got.push(e));
    src.add(4, false);
    await until(() => got.length === 4, 'the poll to find unannounced events');
    expect(positions(got)).toEqual([1, 2, 3, 4]);
    sub.unsubscribe();
  });

  it('completes when the source closes and errors when a read fails', async () => {
    const src = new Source();
    src.add(1);
    let completed = false;
    catchUpSubscription(src).subscribe({ complete: () => (completed = true) });
    src.closed = true;
    for (const l of src.listeners) l();
    await until(() => completed, 'completion');

    const bad = new Source();
    bad.failNext = new Error('disk on fire');
    let error: unknown = null;
    catchUpSubscription(bad).subscribe({ error: (e) => (error = e) });
    await until(() => error !== null, 'the error');
    expect((error as Error).message).toBe('disk on fire');
  });
});
