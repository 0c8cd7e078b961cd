import type { Logger } from '../ports/logger.js';
import type { StreamLease } from './lease.js';

/**
 * Holds a StreamLease only while a reactor has work: taken on the first piece of work, renewed
 * every third of its duration while `busy()` says so, released as soon as it is idle. An idle
 * broker therefore writes nothing to the lease stream, and another node need not wait out the
 * expiry after a clean finish. Every change of hands is logged with the node ids, so an operator
 * can tell from the logs (and /metrics) which node acts.
 */
export class BusyLease {
  private acquiring: Promise<boolean> | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Acquisitions by how the lease was found: free, or expired under another holder (it crashed, paused or was cut off). */
  readonly takeovers = { free: 0, expired: 0 };
  /** Called after a takeover from a holder that never released: its last work may have been done twice. */
  onExpiredTakeover: ((previous: string) => void) | null = null;
  /** Runs while the lease is still held, just before it is given up (idle or graceful stop): the holder's last writes, such as its checkpoint. */
  beforeRelease: (() => Promise<void>) | null = null;
  /**
   * Whether this node may act for the cluster at all (e.g. its config knows every site the log
   * has): a node that may not never takes the lease and gives it up if it holds it, so a node
   * that can do the work takes over instead of this one doing it wrongly.
   */
  eligible: () => boolean = () => true;
  private declined = false;

  constructor(
    readonly lease: StreamLease,
    private readonly busy: () => boolean,
    private readonly logger: Logger,
  ) {}

  private get fields(): Record<string, unknown> {
    return { lease: this.lease.options.name, node: this.lease.options.holder };
  }

  /** True when this process may act now (taking the lease when free). */
  async hold(): Promise<boolean> {
    if (!this.eligible()) {
      if (!this.declined)
        this.logger.warn(this.fields, 'this node may not act for the cluster now: it does not take the lease (see the preceding warnings)');
      this.declined = true;
      if (this.lease.isHeld()) await this.giveUp();
      return false;
    }
    this.declined = false;
    if (this.lease.isHeld()) return true;
    this.acquiring ??= this.lease.acquire().finally(() => (this.acquiring = null));
    const held = await this.acquiring;
    if (held && !this.timer) {
      const a = this.lease.lastAcquisition;
      if (a?.how === 'expired') {
        this.takeovers.expired++;
        this.logger.warn({ ...this.fields, previous: a.previous }, 'lease taken over after expiry (the previous holder stopped renewing)');
        this.onExpiredTakeover?.(a.previous!);
      } else if (a?.how === 'taken') {
        this.takeovers.free++;
        this.logger.info(this.fields, 'lease acquired');
      }
      this.timer = setInterval(() => void this.tend(), Math.max(50, Math.floor(this.lease.options.durationMs / 3)));
    }
    return held;
  }

  /** Whether this node holds the lease now. */
  isHeld(): boolean {
    return this.lease.isHeld();
  }

  /** When to try again after `hold()` said no (epoch ms). */
  retryAt(now: number): number {
    return Math.max(this.lease.otherExpiresAt(), now + this.lease.options.durationMs / 4);
  }

  private async giveUp(): Promise<void> {
    this.clear();
    if (this.lease.isHeld()) await this.beforeRelease?.();
    if (await this.lease.release()) this.logger.warn(this.fields, 'lease given up: this node may not act for the cluster now');
  }

  private async tend(): Promise<void> {
    try {
      if (!this.eligible()) return await this.giveUp();
      if (this.busy()) {
        if (!(await this.lease.renew())) {
          this.clear();
          this.logger.warn({ ...this.fields, holder: this.lease.holder }, 'lease lost to another node');
        }
        return;
      }
      this.clear();
      if (this.lease.isHeld()) await this.beforeRelease?.();
      if (await this.lease.release()) this.logger.debug(this.fields, 'lease released (idle)');
    } catch (err) {
      this.logger.warn({ err, ...this.fields }, 'lease upkeep failed');
    }
  }

  private clear(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Graceful stop: hands the lease over at once (a release in the log), so no node waits for its expiry. */
  async stop(): Promise<void> {
    this.clear();
    try {
      if (this.lease.isHeld()) await this.beforeRelease?.();
      if (await this.lease.release()) this.logger.info(this.fields, 'lease handed over (graceful stop)');
    } catch (err) {
      this.logger.warn({ err, ...this.fields }, 'lease not released at stop; another node takes over when it expires');
    }
  }
}
