import type { ConsoleSource, EventStore, ProjectionEngine } from '../../plugin/index.js';
import type { DeliveriesView } from './deliveries-view.js';
import type { DeliveryState } from './delivery-state.js';
import { requeueDelivery } from './requeue.js';

const KIND_WORDS: Record<string, string> = { 'user.banned': 'ban', 'user.unbanned': 'unban', 'user.erased': 'erasure' };

const iso = (ms: number | null): string | null => (ms ? new Date(ms).toISOString() : null);

function detail(s: DeliveryState): { detail: string; at: string | null } {
  switch (s.status) {
    case 'delivered':
      return { detail: `acknowledged (HTTP ${s.lastStatus ?? '?'})`, at: s.deliveredAt };
    case 'retrying':
      return { detail: `attempt failed: ${s.lastError ?? 'unknown error'}; next attempt scheduled`, at: iso(s.nextAttemptAt) };
    case 'abandoned':
      return { detail: `gave up: ${s.abandonReason ?? s.lastError ?? 'unknown'}`, at: s.updatedAt };
    default:
      return { detail: 'queued, not sent yet', at: s.updatedAt };
  }
}

/** The operator console's view of ban notifications: per ban, per site, with a retry action. */
export function banConsoleSource(view: DeliveriesView, store: EventStore, projections: ProjectionEngine): ConsoleSource {
  return {
    name: 'ban-broadcast',
    banDeliveries({ userId, limit }) {
      return view.list(userId, limit).map((b) => ({
        banEventId: b.banEventId,
        userId: b.userId,
        kind: KIND_WORDS[b.kind] ?? b.kind,
        queuedAt: b.queuedAt,
        sites: [...b.sites].map(([siteId, s]) => ({ siteId, status: s.status, attempts: s.attempts, ...detail(s) })),
      }));
    },
    async retryDelivery(banEventId, siteId, actor) {
      const position = await requeueDelivery(store, banEventId, siteId, actor);
      await projections.waitFor(position);
      return position;
    },
  };
}
