import type { RecordedEvent, KnownEvent } from '../../plugin/index.js';

export type DeliveryStatus = 'pending' | 'retrying' | 'delivered' | 'abandoned';

/** One (ban, site) delivery as its stream tells it. */
export interface DeliveryState {
  status: DeliveryStatus;
  /** Attempts so far (over the delivery's whole life, requeues included). */
  attempts: number;
  /** Revision of the delivery stream's last event (-1: none yet). */
  revision: number;
  /** When the current round started (first attempt after queueing or requeue): the retry horizon counts from here. */
  roundStartedAt: number | null;
  nextAttemptAt: number | null;
  deliveredAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  abandonReason: string | null;
  updatedAt: string | null;
}

export const initialDelivery = (): DeliveryState => ({
  status: 'pending',
  attempts: 0,
  revision: -1,
  roundStartedAt: null,
  nextAttemptAt: null,
  deliveredAt: null,
  lastStatus: null,
  lastError: null,
  abandonReason: null,
  updatedAt: null,
});

/** Folds one event of a `delivery-*` stream. Pure, so the sender and the operator views agree. */
export function evolveDelivery(s: DeliveryState, raw: RecordedEvent): DeliveryState {
  const e = raw as KnownEvent;
  const at = e.metadata.recordedAt;
  const base = { ...s, revision: raw.revision, updatedAt: at };
  switch (e.type) {
    case 'BanNotificationRequeued':
      return { ...base, status: 'pending', roundStartedAt: null, nextAttemptAt: null, abandonReason: null };
    case 'BanNotificationDelivered':
      return {
        ...base,
        status: 'delivered',
        attempts: e.data.attempt,
        deliveredAt: at,
        lastStatus: e.data.status,
        lastError: null,
        nextAttemptAt: null,
      };
    case 'BanNotificationFailed':
      return {
        ...base,
        status: e.data.nextAttemptAt ? 'retrying' : s.status,
        attempts: e.data.attempt,
        roundStartedAt: s.roundStartedAt ?? Date.parse(at) - e.data.durationMs,
        nextAttemptAt: e.data.nextAttemptAt ? Date.parse(e.data.nextAttemptAt) : null,
        lastStatus: e.data.status,
        lastError: e.data.error,
      };
    case 'BanNotificationAbandoned':
      return { ...base, status: 'abandoned', abandonReason: e.data.reason, nextAttemptAt: null };
    default:
      return s;
  }
}

export const foldDelivery = (events: RecordedEvent[]): DeliveryState => events.reduce(evolveDelivery, initialDelivery());
