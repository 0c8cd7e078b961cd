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
  /** This process's id (random per process: a restarted node is a new holder). */
  holder: string;
  durationMs: number;
  clock: Clock;
}

interface LeaseState {
  holder: string | null;
  expiresAt: number;
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
  private state: LeaseState = { holder: null, expiresAt: 0 };

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
    return this.state.holder === this.options.holder && this.now() < this.state.expiresAt - this.margin();
  }

  /** When another holder's lease runs out (epoch ms), or 0 when nobody else holds it. */
  otherExpiresAt(): number {
    return this.state.holder && this.state.holder !== this.options.holder ? this.state.expiresAt : 0;
  }

  private async refresh(): Promise<void> {
    const events = await this.store.readStream(this.streamId, { fromRevision: this.revision + 1 });
    for (const e of events) {
      if (e.revision <= this.revision) continue;
      this.revision = e.revision;
      const d = e.data as { holder: string; expiresAt?: string };
      if (e.type === 'LeaseReleased') this.state = { holder: null, expiresAt: 0 };
      else this.state = { holder: d.holder, expiresAt: Date.parse(d.expiresAt ?? '') || 0 };
    }
  }

  private async write(type: 'LeaseAcquired' | 'LeaseRenewed' | 'LeaseReleased'): Promise<boolean> {
    const expiresAt = new Date(this.now() + this.options.durationMs).toISOString();
    const data = type === 'LeaseReleased' ? { name: this.options.name, holder: this.options.holder } : { name: this.options.name, holder: this.options.holder, expiresAt };
    try {
      const res = await this.store.append(this.streamId, [{ type, data: data as never, metadata: { actor: 'system' } }], {
        expectedRevision: this.revision === -1 ? 'no_stream' : this.revision,
      });
      this.revision = res.revision;
      this.state = type === 'LeaseReleased' ? { holder: null, expiresAt: 0 } : { holder: this.options.holder, expiresAt: Date.parse(expiresAt) };
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
    const mine = this.state.holder === this.options.holder;
    const free = !this.state.holder || this.now() >= this.state.expiresAt;
    if (!mine && !free) return false;
    return (await this.write(mine ? 'LeaseRenewed' : 'LeaseAcquired')) && this.isHeld();
  }

  /** Extends our lease; false when it was lost (taken over after expiry). */
  async renew(): Promise<boolean> {
    if (this.state.holder !== this.options.holder) return false;
    return this.write('LeaseRenewed');
  }

  /** Gives the lease up so another node need not wait for expiry. */
  async release(): Promise<void> {
    if (this.state.holder !== this.options.holder) return;
    await this.write('LeaseReleased');
  }
}
