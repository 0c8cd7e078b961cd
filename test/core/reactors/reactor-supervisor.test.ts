import { describe, expect, it } from 'vitest';
import { filter, map, type Subscription } from 'rxjs';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import { ReactorSupervisor, type Logger, type Reactor, type ReactorContext, type RecordedEvent } from '../../../core/index.js';
import { waitUntil } from '../../helpers/broker.js';

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {}, child: () => quiet };

/** Throws synchronously, in its own `next` handler (rxjs would rethrow it on a timer: an uncaught exception) or in an operator. */
class Thrower implements Reactor {
  seen: number[] = [];
  starts = 0;
  stops = 0;
  broken = true;
  private sub: Subscription | null = null;
  constructor(
    readonly name: string,
    private readonly where: 'next' | 'operator' | 'start',
  ) {}
  start(ctx: ReactorContext): void {
    this.starts++;
    if (this.where === 'start' && this.broken) throw new Error('cannot start');
    const events = ctx.subscribe(0).pipe(filter((e: RecordedEvent) => e.type === 'SessionRefreshed'));
    const fail = (e: RecordedEvent) => {
      if (this.broken && (e.data as { poison?: boolean }).poison) throw new Error(`poison at ${e.position}`);
      return e;
    };
    this.sub = (this.where === 'operator' ? events.pipe(map(fail)) : events).subscribe((e) => {
      if (this.where === 'next') fail(e);
      this.seen.push(e.position);
    });
  }
  stop(): void {
    this.stops++;
    this.sub?.unsubscribe();
  }
}

async function seed(store: MemoryEventStore, n: number, poisonAt: number): Promise<void> {
  for (let i = 1; i <= n; i++)
    await store.append(`s-${i}`, [
      { type: 'SessionRefreshed', data: { sessionId: `s${i}`, userId: 'u', poison: i === poisonAt }, metadata: { actor: 't' } },
    ]);
}

describe('ReactorSupervisor', () => {
  for (const where of ['next', 'operator'] as const) {
    it(`quarantines a reactor that throws synchronously (in its ${where === 'next' ? 'next handler' : 'pipeline'}) on the event, records it in the log, and restarts it on a later retry request`, async () => {
      const store = new MemoryEventStore();
      await seed(store, 10, 4);
      const sup = new ReactorSupervisor(store, quiet);
      const r = new Thrower('t', where);
      sup.add(r);
      await sup.startAll();
      await waitUntil(async () => (await store.readStream('reactor-t')).length === 1, 2000, 'quarantine recorded');
      expect(sup.quarantines()).toEqual([
        expect.objectContaining({
          component: 't',
          kind: 'reactor',
          position: 4,
          streamId: 's-4',
          type: 'SessionRefreshed',
          error: 'Error: poison at 4',
        }),
      ]);
      expect(r.seen).toEqual([1, 2, 3]);
      expect(r.stops).toBe(1);
      await seed(store, 2, 0); // nothing more reaches it while held
      expect(r.seen).toEqual([1, 2, 3]);

      // A second supervisor (a restart, or another node) does not start it at all.
      const r2 = new Thrower('t', where);
      const sup2 = new ReactorSupervisor(store, quiet);
      sup2.add(r2);
      await sup2.startAll();
      expect(r2.starts).toBe(0);
      expect(sup2.quarantines()).toHaveLength(1);

      // An old retry (before the quarantine) does nothing; a new one restarts it.
      const q = (await store.readStream('reactor-t'))[0].position;
      await sup2.retryRequested('t', q - 1);
      expect(r2.starts).toBe(0);
      r2.broken = false;
      const { position } = await store.append('component-t', [
        { type: 'ComponentRetryRequested', data: { component: 't' }, metadata: { actor: 't' } },
      ]);
      await sup2.retryRequested('t', position);
      expect(sup2.quarantines()).toEqual([]);
      await waitUntil(() => r2.seen.includes(4), 2000, 'the poison event handled after the fix');
      await sup.stopAll();
      await sup2.stopAll();
    });
  }

  it('quarantines a reactor whose start throws, without an event', async () => {
    const store = new MemoryEventStore();
    const sup = new ReactorSupervisor(store, quiet);
    const r = new Thrower('s', 'start');
    sup.add(r);
    await sup.startAll();
    expect(sup.quarantines()).toEqual([expect.objectContaining({ component: 's', position: 0, error: 'Error: cannot start' })]);
    await sup.stopAll();
  });
});
