import type { Observable } from 'rxjs';
import {
  catchUpSubscription,
  checkExpectedRevision,
  sealEvents,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type NewEvent,
  type ReadAllOptions,
  type RecordedEvent,
} from '../../core/index.js';

/** In-memory event store: for tests and throwaway demos. Same contract as the durable ones. */
export class MemoryEventStore implements EventStore {
  readonly kind = 'memory';
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

  async readStream(streamId: string, options: { fromRevision?: number } = {}): Promise<RecordedEvent[]> {
    const s = this.streams.get(streamId) ?? [];
    return options.fromRevision ? s.filter((e) => e.revision >= options.fromRevision!) : s.slice();
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
