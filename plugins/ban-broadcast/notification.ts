import { NotFound, type EventStore, type KnownEvent } from '../../plugin/index.js';
import type { NotificationKind } from './events.js';

/** What every site is told (the JSON body of a Standard Webhooks delivery; the facts of a SET). */
export interface BanNotification {
  type: NotificationKind;
  /** When the ban was recorded (not when this attempt was sent: the body is the same on every retry). */
  timestamp: string;
  data: {
    /** The ban event's id: also the `webhook-id`, so receivers de-duplicate retries by it. */
    eventId: string;
    userId: string;
    /** `sub@iss` of each external identity linked to the user when the event happened; none for an erasure. */
    identities: string[];
    /** The ban's, unban's or erasure's reason. */
    reason: string | null;
    actor: string;
    until: string | null;
  };
}

/**
 * Builds the notification from the user's own stream: the ban event and the identities linked
 * before it. Folding up to the event (not reading the current read model) keeps the body stable
 * across retries and correct for an erasure, which unlinks everything in the same breath.
 */
export async function buildNotification(store: EventStore, banStreamId: string, banEventId: string): Promise<BanNotification> {
  const events = (await store.readStream(banStreamId)) as unknown as KnownEvent[];
  const linked = new Set<string>();
  for (const e of events) {
    if (e.id === banEventId) {
      if (e.type !== 'UserBanned' && e.type !== 'UserUnbanned' && e.type !== 'UserErased') break;
      const d = e.data as { userId: string; reason?: string | null; actor: string; until?: string | null };
      return {
        type: e.type === 'UserBanned' ? 'user.banned' : e.type === 'UserUnbanned' ? 'user.unbanned' : 'user.erased',
        timestamp: e.metadata.recordedAt,
        // An erasure names the user by id alone: its subjects are personal data whose key the
        // erasure destroyed (and would read `[erased]` on a retry, changing the body).
        data: {
          eventId: e.id,
          userId: d.userId,
          identities: e.type === 'UserErased' ? [] : [...linked],
          reason: d.reason ?? null,
          actor: d.actor,
          until: d.until ?? null,
        },
      };
    }
    if (e.type === 'ExternalIdentityLinked') linked.add(`${e.data.subject}@${e.data.issuer}`);
    else if (e.type === 'ExternalIdentityUnlinked') linked.delete(`${e.data.subject}@${e.data.issuer}`);
  }
  throw new NotFound(`ban event ${banEventId} not found in ${banStreamId}`);
}
