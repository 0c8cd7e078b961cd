import { Observable } from 'rxjs';
import type { RecordedEvent } from './envelope.js';

export interface CatchUpSource {
  readPage(after: number, limit: number): Promise<RecordedEvent[]>;
  /** Registers a callback called after any append commits; returns an unregister function. */
  onAppend(listener: () => void): () => void;
  /** Optional polling interval (ms) for appends made by other processes the store cannot hear. */
  pollMs?: number;
  isClosed(): boolean;
}

/**
 * Catch-up-then-live subscription shared by every adapter. It never hands over between two
 * sources: it only ever reads `$all` after its own cursor, and an append notification (or the poll
 * timer) only wakes it to read again. So history → live has no gap (the cursor only moves past what
 * was read) and no duplicate (nothing is read twice), whatever the interleaving with writers.
 * Pages of 1,000 by default: enough to amortize a read, small enough to die young in V8 (see replayLog).
 */
export function catchUpSubscription(source: CatchUpSource, after = 0, pageSize = 1000): Observable<RecordedEvent> {
  return new Observable<RecordedEvent>((subscriber) => {
    let cursor = after;
    let stopped = false;
    let reading = false;
    let wakeAgain = false;
    let timer: NodeJS.Timeout | undefined;

    const pump = async (): Promise<void> => {
      if (reading) {
        wakeAgain = true;
        return;
      }
      reading = true;
      try {
        do {
          wakeAgain = false;
          for (;;) {
            if (stopped) return;
            if (source.isClosed()) {
              subscriber.complete();
              stopped = true;
              return;
            }
            const page = await source.readPage(cursor, pageSize);
            for (const e of page) {
              if (stopped) return;
              cursor = e.position;
              subscriber.next(e);
            }
            if (page.length < pageSize) break;
            // More to read: let the event loop run first. A synchronous store (SQLite) resolves
            // readPage without any I/O, so a catch-up of a long log would otherwise run in one
            // chain of microtasks and hold every request (/healthz, /readyz too) until its end.
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
        } while (wakeAgain && !stopped);
      } catch (err) {
        if (!stopped) {
          stopped = true;
          subscriber.error(err);
        }
      } finally {
        reading = false;
      }
    };

    const unlisten = source.onAppend(() => void pump());
    if (source.pollMs) {
      timer = setInterval(() => void pump(), source.pollMs);
      timer.unref();
    }
    void pump();
    return () => {
      stopped = true;
      unlisten();
      if (timer) clearInterval(timer);
    };
  });
}
