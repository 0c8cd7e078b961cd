import type { Projection, RecordedEvent, KnownEvent } from '../../core/index.js';
import { evolveDelivery, initialDelivery, type DeliveryState } from './delivery-state.js';
import type { NotificationKind } from './events.js';

export interface BroadcastView {
  banEventId: string;
  userId: string;
  kind: NotificationKind;
  queuedAt: string;
  position: number;
  sites: Map<string, DeliveryState>;
}

/**
 * Operators' view of every ban broadcast: per ban, per site, acknowledged when / still retrying /
 * gave up. Also the reactor's list of unfinished work when it starts (the log is the queue).
 */
export class DeliveriesView implements Projection {
  readonly name = 'ban-broadcast.deliveries';
  checkpoint = 0;
  readonly broadcasts = new Map<string, BroadcastView>();
  /** siteId -> URL that answered 410 Gone. */
  readonly disabledEndpoints = new Map<string, string>();

  reset(): void {
    this.broadcasts.clear();
    this.disabledEndpoints.clear();
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    if (e.type === 'BanBroadcastQueued') {
      this.broadcasts.set(e.data.banEventId, {
        banEventId: e.data.banEventId,
        userId: e.data.userId,
        kind: e.data.kind,
        queuedAt: e.metadata.recordedAt,
        position: e.data.banPosition,
        sites: new Map(e.data.siteIds.map((s) => [s, initialDelivery()])),
      });
      return;
    }
    if (e.type === 'WebhookEndpointDisabled') {
      this.disabledEndpoints.set(e.data.siteId, e.data.url);
      return;
    }
    if (
      e.type === 'BanNotificationRequeued' ||
      e.type === 'BanNotificationDelivered' ||
      e.type === 'BanNotificationFailed' ||
      e.type === 'BanNotificationAbandoned'
    ) {
      const b = this.broadcasts.get(e.data.banEventId);
      if (!b) return;
      b.sites.set(e.data.siteId, evolveDelivery(b.sites.get(e.data.siteId) ?? initialDelivery(), raw));
    }
  }

  /** Newest first; only one user's when `userId` is given. */
  list(userId?: string): BroadcastView[] {
    return [...this.broadcasts.values()].filter((b) => !userId || b.userId === userId).reverse();
  }

  /** Deliveries not yet acknowledged nor given up. */
  unfinished(): { banEventId: string; siteId: string; state: DeliveryState }[] {
    const out: { banEventId: string; siteId: string; state: DeliveryState }[] = [];
    for (const b of this.broadcasts.values()) {
      for (const [siteId, state] of b.sites) if (state.status === 'pending' || state.status === 'retrying') out.push({ banEventId: b.banEventId, siteId, state });
    }
    return out;
  }
}
