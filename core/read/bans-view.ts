import type { RecordedEvent, KnownEvent } from '../events/envelope.js';
import type { Projection } from './projection.js';

export interface BanView {
  userId: string;
  reason: string;
  actor: string;
  at: string;
  eventId: string;
  position: number;
}

/** Who is banned now, and every ban ever (for operators). */
export class BansView implements Projection {
  readonly name = 'bans';
  checkpoint = 0;
  readonly active = new Map<string, BanView>();
  readonly history: (BanView & { liftedAt: string | null })[] = [];

  reset(): void {
    this.active.clear();
    this.history.length = 0;
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    if (e.type === 'UserBanned') {
      const b = { userId: e.data.userId, reason: e.data.reason, actor: e.data.actor, at: e.metadata.recordedAt, eventId: e.id, position: e.position };
      this.active.set(b.userId, b);
      this.history.push({ ...b, liftedAt: null });
    } else if (e.type === 'UserUnbanned') {
      this.active.delete(e.data.userId);
      for (let i = this.history.length - 1; i >= 0; i--) {
        if (this.history[i].userId === e.data.userId && !this.history[i].liftedAt) {
          this.history[i].liftedAt = e.metadata.recordedAt;
          break;
        }
      }
    }
  }

  isBanned(userId: string): boolean {
    return this.active.has(userId);
  }
}
