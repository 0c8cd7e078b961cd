import { MemoryDataKeys } from '../data-keys/memory.js';
import type { Observable } from 'rxjs';
import {
  catchUpSubscription,
  checkExpectedRevision,
  checkImportLink,
  sealEvents,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type NewEvent,
  type ReadAllOptions,
  type RecordedEvent,
  type ReadStreamOptions,
} from '../../core/index.js';

/** In-memory event store: for tests and throwaway demos. Same contract as the durable ones. */
export class MemoryEventStore implements EventStore {
  readonly kind = 'memory';
  readonly dataKeys = new MemoryDataKeys();
  readonly keysInAppend = true;
  private readonly all: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly listeners = new Set<() => void>();
  private closed = false;

  async append(streamId: string, events: NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    if (this.closed) throw new Error('event store is closed');
    const stream = this.streams.get(streamId) ?? [];
    const last = stream.length ? stream[stream.length - 1] : undefined;
    checkExpectedRevision(streamId, options.expectedRevision, last ? last.revision : -1);
    if (events.length === 0) {
      return { revision: last ? last.revision : -1, position: this.all.length, events: [] };
    }
    if (options.dataKeys?.length) this.dataKeys.claim(options.dataKeys);
    const sealed = sealEvents(streamId, events, last ? last.revision : -1, last ? last.hash : '', this.all.length + 1);
    for (const e of sealed) {
      stream.push(e);
      this.all.push(e);
    }
    this.streams.set(streamId, stream);
    this.notify();
    const end = sealed[sealed.length - 1];
    return { revision: end.revision, position: end.position, events: sealed };
  }

  async importEvents(events: readonly RecordedEvent[]): Promise<number> {
    if (this.closed) throw new Error('event store is closed');
    // Checked first, written after: all or none.
    const heads = new Map<string, { revision: number; hash: string }>();
    for (const e of events) {
      const stream = this.streams.get(e.streamId);
      const last = stream?.[stream.length - 1];
      const head = heads.get(e.streamId) ?? (last ? { revision: last.revision, hash: last.hash } : { revision: -1, hash: '' });
      checkImportLink(e, head);
      heads.set(e.streamId, { revision: e.revision, hash: e.hash });
    }
    for (const e of events) {
      const stored = { ...e, position: this.all.length + 1 };
      this.all.push(stored);
      const stream = this.streams.get(e.streamId) ?? [];
      stream.push(stored);
      this.streams.set(e.streamId, stream);
    }
    if (events.length) this.notify();
    return this.all.length;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const s = this.streams.get(streamId) ?? [];
    const from = options.fromRevision ? s.filter((e) => e.revision >= options.fromRevision!) : s.slice();
    return options.maxCount !== undefined ? from.slice(0, options.maxCount) : from;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const after = options.after ?? 0;
    return this.all.slice(after, after + (options.limit ?? 5000));
  }

  async headPosition(): Promise<number> {
    return this.all.length;
  }

  subscribe(after = 0): Observable<RecordedEvent> {
    return catchUpSubscription(
      {
        readPage: (a, limit) => this.readAll({ after: a, limit }),
        onAppend: (l) => {
          this.listeners.add(l);
          return () => this.listeners.delete(l);
        },
        isClosed: () => this.closed,
      },
      after,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.notify();
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}
