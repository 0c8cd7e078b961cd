import type { RecordedEvent } from '../events/envelope.js';
import type { Projection } from './projection.js';

export interface AuditEntry {
  position: number;
  type: string;
  recordedAt: string;
  actor: string;
  streamId: string;
}

/**
 * The audit timeline per user: every event that names the user (in `data.userId`), in order.
 * Entries are small (no data): the full event is read from the log by position when shown.
 */
export class AuditView implements Projection {
  readonly name = 'audit';
  checkpoint = 0;
  readonly byUser = new Map<string, AuditEntry[]>();

  reset(): void {
    this.byUser.clear();
  }

  apply(e: RecordedEvent): void {
    const userId = (e.data as { userId?: unknown } | null)?.userId;
    if (typeof userId !== 'string') return;
    let list = this.byUser.get(userId);
    if (!list) this.byUser.set(userId, (list = []));
    list.push({ position: e.position, type: e.type, recordedAt: e.metadata.recordedAt, actor: e.metadata.actor, streamId: e.streamId });
  }

  timeline(userId: string): AuditEntry[] {
    return this.byUser.get(userId) ?? [];
  }
}
