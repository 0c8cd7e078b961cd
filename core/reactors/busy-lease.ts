import type { Logger } from '../ports/logger.js';
import type { StreamLease } from './lease.js';

/**
 * Holds a StreamLease only while a reactor has work: taken on the first piece of work, renewed
 * every third of its duration while `busy()` says so, released as soon as it is idle. An idle
 * broker therefore writes nothing to the lease stream, and another node need not wait out the
 * expiry after a clean finish.
 */
export class BusyLease {
  private acquiring: Promise<boolean> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly lease: StreamLease,
    private readonly busy: () => boolean,
    private readonly logger: Logger,
  ) {}

  /** True when this process may act now (taking the lease when free). */
  async hold(): Promise<boolean> {
    if (this.lease.isHeld()) return true;
    this.acquiring ??= this.lease.acquire().finally(() => (this.acquiring = null));
    const held = await this.acquiring;
    if (held && !this.timer) this.timer = setInterval(() => void this.tend(), Math.max(50, Math.floor(this.lease.options.durationMs / 3)));
    return held;
  }

  /** When to try again after `hold()` said no (epoch ms). */
  retryAt(now: number): number {
    return Math.max(this.lease.otherExpiresAt(), now + this.lease.options.durationMs / 4);
  }

  private async tend(): Promise<void> {
    try {
      if (this.busy()) {
        if (!(await this.lease.renew())) this.logger.warn({ lease: this.lease.streamId }, 'lease lost to another node');
        return;
      }
      this.clear();
      await this.lease.release();
    } catch (err) {
      this.logger.warn({ err, lease: this.lease.streamId }, 'lease upkeep failed');
    }
  }

  private clear(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async stop(): Promise<void> {
    this.clear();
    await this.lease.release().catch(() => undefined);
  }
}
