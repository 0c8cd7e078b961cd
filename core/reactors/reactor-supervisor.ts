import { Observable, type Observer, type Operator, type Subscriber, type Subscription, type TeardownLogic } from 'rxjs';
import type { RecordedEvent } from '../events/envelope.js';
import type { Reactor, ReactorContext } from '../kernel/extension-points.js';
import { describeError, eventRef, retryStream, type Quarantine } from '../kernel/quarantine.js';
import type { EventStore } from '../ports/event-store.js';
import type { Logger } from '../ports/logger.js';

interface Guard {
  /** The event being handed to the reactor right now (a synchronous failure is on it). */
  current: RecordedEvent | null;
  /** The last event handed to it (an asynchronous failure is on it or on one before it). */
  last: RecordedEvent | null;
  fail(err: unknown): void;
}

/**
 * The events as a reactor sees them, with its failures caught wherever they surface: a throw in
 * its `next` handler (which rxjs would otherwise rethrow on a timer: an uncaught exception that
 * kills the process), or an error that reaches the end of its pipeline (an operator that threw, a
 * rejected promise in a `concatMap`). Every observable piped from it is guarded too (`lift`), so
 * the reactor writes ordinary rxjs and the kernel still sees the failure.
 */
class GuardedEvents<T> extends Observable<T> {
  constructor(
    private readonly guard: Guard,
    subscribe?: (this: Observable<T>, subscriber: Subscriber<T>) => TeardownLogic,
  ) {
    super(subscribe);
  }

  override lift<R>(operator?: Operator<T, R>): Observable<R> {
    const o = new GuardedEvents<R>(this.guard) as unknown as Observable<R> & { source: unknown; operator: unknown };
    o.source = this;
    o.operator = operator;
    return o;
  }

  override subscribe(
    observerOrNext?: Partial<Observer<T>> | ((value: T) => void) | null,
    error?: ((e: unknown) => void) | null,
    complete?: (() => void) | null,
  ): Subscription {
    const guard = this.guard;
    const o: Partial<Observer<T>> =
      typeof observerOrNext === 'function' || observerOrNext == null
        ? { next: observerOrNext ?? undefined, error: error ?? undefined, complete: complete ?? undefined }
        : observerOrNext;
    return super.subscribe({
      next: (v) => {
        try {
          o.next?.call(o, v);
        } catch (err) {
          guard.fail(err);
        }
      },
      error: (err) => {
        guard.fail(err);
        try {
          o.error?.call(o, err); // the reactor's own handler still runs (its log line, its cleanup)
        } catch {
          /* already reported */
        }
      },
      complete: () => o.complete?.call(o),
    });
  }
}

interface Supervised {
  reactor: Reactor;
  running: boolean;
  quarantine: (Quarantine & { recordedAt: number }) | null;
  /** Stops handing events to the reactor (its current subscriptions). */
  cut: (() => void)[];
  /** Bumped at each start: a subscription from an earlier start never delivers again. */
  generation: number;
}

/**
 * Runs the reactors and isolates their faults. A reactor that throws (in `start`, or on an event) is
 * **quarantined**, not skipped past: it is stopped, and a `ReactorQuarantined` event (the event's
 * position, stream, type and id, and the error) is appended beside its checkpoint, so no node and no
 * restart runs it into the same event again (no crash loop). Its reactions are side effects an
 * operator counts on (a ban webhook must reach every site): skipping the event after N tries would
 * lose one silently, so it waits for `broker projections retry <name>` (a `ComponentRetryRequested`
 * in the log, seen by every node), after the fix. Then it is started again and resumes from its own
 * checkpoint, the failing event included. The rest of the broker serves on meanwhile.
 */
export class ReactorSupervisor {
  private readonly reactors: Supervised[] = [];
  private stopped = false;
  onQuarantine: (q: Quarantine) => void = () => {};
  onRelease: (name: string) => void = () => {};

  constructor(
    private readonly store: EventStore,
    private readonly logger: Logger,
  ) {}

  add(reactor: Reactor): void {
    this.reactors.push({ reactor, running: false, quarantine: null, cut: [], generation: 0 });
  }

  get names(): string[] {
    return this.reactors.map((s) => s.reactor.name);
  }

  quarantines(): Quarantine[] {
    return this.reactors.filter((s) => s.quarantine).map((s) => strip(s.quarantine!));
  }

  /** Reads each reactor's quarantine from the log, then starts those not held. */
  async startAll(): Promise<void> {
    for (const s of this.reactors) {
      s.quarantine = await this.loadQuarantine(s.reactor.name);
      if (s.quarantine) {
        this.logger.warn(
          { reactor: s.reactor.name, quarantine: strip(s.quarantine) },
          'reactor quarantined; not started (broker projections retry <name> after the fix)',
        );
        this.onQuarantine(strip(s.quarantine));
      } else await this.start(s);
    }
  }

  async stopAll(): Promise<void> {
    this.stopped = true;
    for (const s of this.reactors) await this.stop(s);
  }

  /** A retry request at `position`: a reactor of that name quarantined before it starts again. */
  async retryRequested(name: string, position: number): Promise<void> {
    const s = this.reactors.find((r) => r.reactor.name === name);
    if (!s?.quarantine || position <= s.quarantine.recordedAt || this.stopped) return;
    s.quarantine = null;
    this.logger.info({ reactor: name }, 'reactor released from quarantine; starting again');
    this.onRelease(name);
    await this.start(s);
  }

  private async loadQuarantine(name: string): Promise<(Quarantine & { recordedAt: number }) | null> {
    let q: (Quarantine & { recordedAt: number }) | null = null;
    for (const e of await this.store.readStream(`reactor-${name}`)) {
      if (e.type !== 'ReactorQuarantined') continue;
      const d = e.data as { position: number; streamId: string; eventId: string; type: string; error: string };
      q = {
        component: name,
        kind: 'reactor',
        position: d.position,
        streamId: d.streamId,
        eventId: d.eventId,
        type: d.type,
        error: d.error,
        at: e.metadata.recordedAt,
        recordedAt: e.position,
      };
    }
    if (!q) return null;
    for (const e of await this.store.readStream(retryStream(name)))
      if (e.type === 'ComponentRetryRequested' && e.position > q.recordedAt) return null;
    return q;
  }

  private async start(s: Supervised): Promise<void> {
    const generation = ++s.generation;
    const guard: Guard = { current: null, last: null, fail: (err) => void this.quarantine(s, guard, err) };
    const ctx: ReactorContext = {
      subscribe: (after) =>
        new GuardedEvents<RecordedEvent>(guard, (subscriber) => {
          const inner = this.store.subscribe(after).subscribe({
            next: (e) => {
              if (s.quarantine || s.generation !== generation) return;
              guard.current = e;
              guard.last = e;
              try {
                subscriber.next(e);
              } finally {
                guard.current = null;
              }
            },
            error: (err) => subscriber.error(err),
            complete: () => subscriber.complete(),
          });
          s.cut.push(() => inner.unsubscribe());
          return () => inner.unsubscribe();
        }),
    };
    s.running = true;
    try {
      await s.reactor.start(ctx);
    } catch (err) {
      await this.quarantine(s, guard, err);
    }
  }

  private async stop(s: Supervised): Promise<void> {
    for (const cut of s.cut.splice(0)) cut();
    if (!s.running) return;
    s.running = false;
    try {
      await s.reactor.stop();
    } catch (err) {
      this.logger.error({ err, reactor: s.reactor.name }, 'reactor failed to stop');
    }
  }

  private async quarantine(s: Supervised, guard: Guard, err: unknown): Promise<void> {
    if (s.quarantine || this.stopped) return;
    const e = guard.current ?? guard.last;
    const q: Quarantine = {
      component: s.reactor.name,
      kind: 'reactor',
      ...eventRef(e),
      error: describeError(err),
      at: new Date().toISOString(),
    };
    s.quarantine = { ...q, recordedAt: Number.MAX_SAFE_INTEGER };
    this.logger.error(
      { err, reactor: s.reactor.name, position: q.position, type: q.type },
      'reactor threw; quarantined (stopped until broker projections retry <name>)',
    );
    this.onQuarantine(q);
    await this.stop(s);
    try {
      const res = await this.store.append(`reactor-${s.reactor.name}`, [
        {
          type: 'ReactorQuarantined',
          data: { reactor: s.reactor.name, position: q.position, streamId: q.streamId, eventId: q.eventId, type: q.type, error: q.error },
          metadata: { actor: 'system' },
        },
      ]);
      s.quarantine.recordedAt = res.position;
    } catch (appendErr) {
      // Held in this process anyway; a restart would meet the event again and quarantine it again.
      this.logger.error({ err: appendErr, reactor: s.reactor.name }, 'could not record the reactor quarantine in the log');
    }
  }
}

function strip(q: Quarantine & { recordedAt: number }): Quarantine {
  const { recordedAt: _r, ...rest } = q;
  return rest;
}
