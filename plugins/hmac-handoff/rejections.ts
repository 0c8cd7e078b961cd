import { PerSecondCap, type Clock, type EventStore, type Logger } from '../../plugin/index.js';

/**
 * Refusals are facts too (audit, alerting on probing): recorded as HandoffRejected, never with the
 * offending secret. Anyone can provoke a refusal without credentials, so recording is capped per
 * node (default 50 events per second): beyond it requests are still refused, and the number of
 * refusals not recorded is logged once per second instead, so junk traffic cannot flood the log.
 */
/** Refused handoffs recorded as `HandoffRejected` per node and second (the rest are only counted in the log). */
export const REJECTIONS_RECORDED_PER_SECOND = 50;

export class Rejections {
  private readonly cap: PerSecondCap;

  constructor(
    private readonly store: EventStore,
    private readonly logger: Logger,
    clock: Clock,
    maxPerSecond = REJECTIONS_RECORDED_PER_SECOND,
  ) {
    this.cap = new PerSecondCap(clock, maxPerSecond, (dropped) =>
      logger.warn({ dropped }, 'HandoffRejected events not recorded (rate cap)'),
    );
  }

  async record(direction: 'outbound' | 'inbound', target: unknown, reason: string, ip: string | null): Promise<void> {
    if (!this.cap.take()) return;
    // The target comes from the URL: keep it short and printable so the log cannot be flooded or spoofed.
    const t = typeof target === 'string' ? target.slice(0, 64).replace(/[^A-Za-z0-9_.-]/g, '?') : '?';
    try {
      await this.store.append('handoff-rejections', [
        { type: 'HandoffRejected', data: { direction, target: t, reason, ip }, metadata: { actor: 'plugin:hmac-handoff' } },
      ]);
    } catch (err) {
      // Failing to record a refusal must not turn the refusal into a 500.
      this.logger.warn({ err, reason }, 'could not record HandoffRejected');
    }
  }
}
