import {
  type StreamCheckpoint,
  isEvent,
  type Logger,
  type PluginReactorState,
  type Reactor,
  type ReactorContext,
  type RecordedEvent,
} from 'identity-broker/plugin';
import './events.js';

/**
 * A reactor: acts on the outside world when an event happens. This one POSTs a JSON notice to
 * `notifyUrl` for every `LoginStatsReset`. Its checkpoint (the position it has acted up to) is kept
 * in the log (stream `reactor-login-stats.reset-notifier`, kept by the core through
 * `ctx.reactorState`: its name starts with the plugin's), written after the POST succeeded: a
 * crash or a restart resends at most the notices not yet checkpointed (at-least-once), and never
 * loses one. One node only: on several nodes, hold a lease first (see plugins/ban-broadcast).
 */
export class ResetNotifier implements Reactor {
  readonly name = 'login-stats.reset-notifier';
  private readonly checkpoint: StreamCheckpoint;
  private subscription: { unsubscribe(): void } | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    state: PluginReactorState,
    private readonly notifyUrl: string,
    private readonly logger: Logger,
  ) {
    this.checkpoint = state.checkpoint(this.name);
  }

  async start(ctx: ReactorContext): Promise<void> {
    const after = await this.checkpoint.load();
    // History after the checkpoint, then live events; one at a time, in log order.
    this.subscription = ctx.subscribe(after).subscribe({
      next: (e) => {
        if (!isEvent(e, 'LoginStatsReset')) return;
        this.queue = this.queue.then(() => this.notify(e));
      },
      error: (err: unknown) => this.logger.error({ err }, 'login-stats: the event subscription failed'),
    });
  }

  private async notify(e: RecordedEvent<'LoginStatsReset', { reason: string }>): Promise<void> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const res = await fetch(this.notifyUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            type: 'login-stats.reset',
            position: e.position,
            at: e.metadata.recordedAt,
            by: e.metadata.actor,
            reason: e.data.reason,
          }),
          signal: AbortSignal.timeout(5000),
        });
        if (res.ok) break;
        this.logger.warn({ status: res.status, attempt }, 'login-stats: the notice was refused');
      } catch (err) {
        this.logger.warn({ err, attempt }, 'login-stats: the notice could not be sent');
      }
      // A real reactor records a failure as an event and retries it later (plugins/ban-broadcast does).
      if (attempt === 3) this.logger.error({ position: e.position }, 'login-stats: notice given up');
    }
    await this.checkpoint.save(e.position);
  }

  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
    await this.queue; // finish the notice in flight
  }
}
