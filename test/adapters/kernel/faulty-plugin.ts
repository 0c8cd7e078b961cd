import { concatMap, from, type Subscription } from 'rxjs';
import type { Plugin } from '../../../adapters/kernel/boot.js';
import {
  type StreamCheckpoint,
  type PersistedProjection,
  type ReadDatabase,
  type ReadStatement,
  type Reactor,
  type ReactorContext,
  type RecordedEvent,
} from '../../../core/index.js';

/**
 * A plugin with a bug, for the fault-isolation tests: its persisted projection and its reactor
 * throw on the registration of an email that starts with `poison` while `fault.broken` holds (the
 * "fix" is setting it false, as a new release of the plugin would). They count their attempts on
 * that event, so a test can tell that a restart did not run them into it again.
 */
export interface Fault {
  broken: boolean;
  projectionAttempts: number;
  reactorAttempts: number;
  /** Emails the reactor acted on, in order. */
  greeted: string[];
}

export const newFault = (): Fault => ({ broken: true, projectionAttempts: 0, reactorAttempts: 0, greeted: [] });

const isPoison = (e: RecordedEvent): boolean =>
  e.type === 'UserRegistered' && String((e.data as { email: string | null }).email ?? '').startsWith('poison');

export class RegistrationsView implements PersistedProjection {
  readonly name = 'faulty.registrations';
  readonly version = 1;
  readonly tables = ['faulty_registrations'];
  private put!: ReadStatement;
  private list!: ReadStatement<{ email: string }>;
  constructor(private readonly fault: Fault) {}
  open(db: ReadDatabase): void {
    db.exec('CREATE TABLE IF NOT EXISTS faulty_registrations (position INTEGER PRIMARY KEY, email TEXT NOT NULL)');
    this.put = db.prepare('INSERT INTO faulty_registrations (position, email) VALUES (?, ?)');
    this.list = db.prepare('SELECT email FROM faulty_registrations ORDER BY position');
  }
  apply(e: RecordedEvent): void {
    if (e.type !== 'UserRegistered') return;
    this.put.run(e.position, (e.data as { email: string }).email);
    if (isPoison(e)) {
      this.fault.projectionAttempts++;
      if (this.fault.broken) throw new Error('registrations view cannot fold a poison registration');
    }
  }
  emails(): string[] {
    return this.list.all().map((r) => r.email);
  }
}

/** Acts on each registration after its own durable checkpoint; fails asynchronously, with no error handler of its own. */
export class Greeter implements Reactor {
  readonly name = 'faulty.greeter';
  private sub: Subscription | null = null;
  constructor(
    // The kernel's checkpoint for it (ctx.reactorState): a core fact, written by the core.
    private readonly checkpoint: StreamCheckpoint,
    private readonly fault: Fault,
  ) {}
  async start(ctx: ReactorContext): Promise<void> {
    const after = await this.checkpoint.load();
    // No error callback, as a careless plugin writes it: before fault isolation a rejection here
    // reached rxjs's unhandled-error path and killed the process.
    this.sub = ctx
      .subscribe(after)
      .pipe(concatMap((e) => from(this.onEvent(e))))
      .subscribe();
  }
  private async onEvent(e: RecordedEvent): Promise<void> {
    if (e.type !== 'UserRegistered') return;
    if (isPoison(e)) {
      this.fault.reactorAttempts++;
      await Promise.resolve();
      if (this.fault.broken) throw new Error('greeter cannot greet a poison registration');
    }
    this.fault.greeted.push((e.data as { email: string }).email);
    await this.checkpoint.save(e.position);
  }
  stop(): void {
    this.sub?.unsubscribe();
    this.sub = null;
  }
}

export function faultyPlugin(
  fault: Fault,
  parts: { projection?: boolean; reactor?: boolean } = { projection: true, reactor: true },
): Plugin {
  let view: RegistrationsView | null = null;
  return {
    name: 'faulty',
    register(ctx) {
      if (parts.projection) ctx.add.projection((view = new RegistrationsView(fault)));
      if (parts.reactor) ctx.add.reactor(new Greeter(ctx.reactorState.checkpoint('faulty.greeter'), fault));
    },
    // For the tests: the rows the projection has committed.
    get view() {
      return view;
    },
  } as Plugin & { view: RegistrationsView | null };
}
