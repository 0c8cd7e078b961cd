import type { Clock } from '../ids.js';
import { WrongExpectedRevision, type EventStore } from '../ports/event-store.js';
import { defineEvent } from '../events/schema-versions.js';

declare module '../events/catalog.js' {
  interface EventMap {
    /** Stream `lease-<name>`: `holder` may act for `name` until `expiresAt`. */
    LeaseAcquired: { name: string; holder: string; expiresAt: string };
    LeaseRenewed: { name: string; holder: string; expiresAt: string };
    LeaseReleased: { name: string; holder: string };
  }
}
defineEvent('LeaseAcquired', 1);
defineEvent('LeaseRenewed', 1);
defineEvent('LeaseReleased', 1);

export interface LeaseOptions {
  /** What the lease guards (`ban-broadcast`); the stream is `lease-<name>`. */
  name: string;
  /** This node's id (`cluster.nodeId`, default `<hostname>:<pid>`): named in the log, the logs and /metrics. Unique per running process. */
  holder: string;
  durationMs: number;
  clock: Clock;
}

interface LeaseState {
  holder: string | null;
  expiresAt: number;
  /** Written by this very object: a holder with our id that we did not write is another process (a duplicate nodeId, or our previous life). */
  byUs: boolean;
}

/** How the last successful `acquire()` got the lease. */
export interface Acquisition {
  /** `taken`: it was free (never held, or released); `expired`: taken over from a holder that stopped renewing; `renewed`: ours already. */
  how: 'taken' | 'expired' | 'renewed';
  /** The holder before us (for `expired`; null when free). */
  previous: string | null;
}

/**
 * A lease taken through the event store, so only one broker node acts on the outside world at a
 * time, on every store adapter: each change is appended with the stream's expected revision, so of
 * two nodes racing for it exactly one append wins (the other gets WrongExpectedRevision).
 * An expired lease may be taken over. Holders stop acting a safety margin (a fifth of the
 * duration) before expiry so a slow renewal does not overlap with the next holder; the residual
 * overlap (a request already in flight) is why consumers must be at-least-once tolerant.
 * Expiry compares wall clocks of different nodes: keep them NTP-synced, or lengthen the lease.
 */
export class StreamLease {
  private revision = -1;
  private state: LeaseState = { holder: null, expiresAt: 0, byUs: false };
  /** Set by each successful `acquire()`. */
  lastAcquisition: Acquisition | null = null;

  constructor(
    private readonly store: EventStore,
    readonly options: LeaseOptions,
  ) {}

  get streamId(): string {
    return `lease-${this.options.name}`;
  }

  private now(): number {
    return this.options.clock.now().getTime();
  }

  private margin(): number {
    return Math.floor(this.options.durationMs / 5);
  }

  /** Whether this process may act now. */
  isHeld(): boolean {
    return this.mine() && this.now() < this.state.expiresAt - this.margin();
  }

  private mine(): boolean {
    return this.state.byUs && this.state.holder === this.options.holder;
  }

  /** The holder as last read from the log (null: free), whoever it is. */
  get holder(): string | null {
    return this.state.holder;
  }

  /** When another holder's lease runs out (epoch ms), or 0 when nobody else holds it. */
  otherExpiresAt(): number {
    return this.state.holder && !this.mine() ? this.state.expiresAt : 0;
  }

  private async refresh(): Promise<void> {
    const events = await this.store.readStream(this.streamId, { fromRevision: this.revision + 1 });
    for (const e of events) {
      if (e.revision <= this.revision) continue;
      this.revision = e.revision;
      const d = e.data as { holder: string; expiresAt?: string };
      if (e.type === 'LeaseReleased') this.state = { holder: null, expiresAt: 0, byUs: false };
      else this.state = { holder: d.holder, expiresAt: Date.parse(d.expiresAt ?? '') || 0, byUs: false };
    }
  }

  private async write(type: 'LeaseAcquired' | 'LeaseRenewed' | 'LeaseReleased'): Promise<boolean> {
    const expiresAt = new Date(this.now() + this.options.durationMs).toISOString();
    const data =
      type === 'LeaseReleased'
        ? { name: this.options.name, holder: this.options.holder }
        : { name: this.options.name, holder: this.options.holder, expiresAt };
    try {
      const res = await this.store.append(this.streamId, [{ type, data: data as never, metadata: { actor: 'system' } }], {
        expectedRevision: this.revision === -1 ? 'no_stream' : this.revision,
      });
      this.revision = res.revision;
      this.state =
        type === 'LeaseReleased'
          ? { holder: null, expiresAt: 0, byUs: false }
          : { holder: this.options.holder, expiresAt: Date.parse(expiresAt), byUs: true };
      return true;
    } catch (err) {
      if (err instanceof WrongExpectedRevision) {
        await this.refresh();
        return false;
      }
      throw err;
    }
  }

  /** Takes the lease when free or expired, renews it when ours. True when held afterwards. */
  async acquire(): Promise<boolean> {
    await this.refresh();
    const mine = this.mine();
    const free = !this.state.holder || this.now() >= this.state.expiresAt;
    if (!mine && !free) return false;
    const acquisition: Acquisition = mine
      ? { how: 'renewed', previous: null }
      : this.state.holder
        ? { how: 'expired', previous: this.state.holder }
        : { how: 'taken', previous: null };
    if (!(await this.write(mine ? 'LeaseRenewed' : 'LeaseAcquired'))) return false;
    this.lastAcquisition = acquisition;
    return this.isHeld();
  }

  /** Extends our lease; false when it was lost (taken over after expiry). */
  async renew(): Promise<boolean> {
    if (!this.mine()) return false;
    return this.write('LeaseRenewed');
  }

  /** Gives the lease up so another node need not wait for expiry. True when a release was written. */
  async release(): Promise<boolean> {
    if (!this.mine()) return false;
    return this.write('LeaseReleased');
  }
}
