import { defineEvent } from '../../plugin/index.js';

/** What a ban-type event becomes on the wire (`type` of the notification). */
export type NotificationKind = 'user.banned' | 'user.unbanned' | 'user.erased';

/** The outcome of one HTTP attempt as recorded (never the secret, never the signature). */
export interface ReceiverError {
  err: string;
  description: string | null;
}

declare module '../../core/index.js' {
  interface EventMap {
    /** Stream `broadcast-<banEventId>` (written once, `no_stream`): the sites to tell about this ban. */
    BanBroadcastQueued: {
      banEventId: string;
      banStreamId: string;
      banPosition: number;
      userId: string;
      kind: NotificationKind;
      siteIds: string[];
    };
    /** Stream `delivery-<banEventId>-<siteId>`: an operator asked for one more delivery. */
    BanNotificationRequeued: { banEventId: string; siteId: string; actor: string };
    BanNotificationDelivered: { banEventId: string; siteId: string; attempt: number; status: number; durationMs: number; format: string };
    BanNotificationFailed: {
      banEventId: string;
      siteId: string;
      attempt: number;
      status: number | null;
      /** `http_500`, `timeout`, `connection_refused`, `redirect_not_followed`, `private_address_refused`... */
      error: string;
      durationMs: number;
      /** ISO time of the next attempt, or null when this failure is final. */
      nextAttemptAt: string | null;
      /** RFC 8935 §2.3 error body of a SET receiver that answered 400. */
      receiverError?: ReceiverError | null;
    };
    BanNotificationAbandoned: { banEventId: string; siteId: string; attempts: number; reason: string };
    /** Stream `webhook-endpoint-<siteId>`: the endpoint answered 410 Gone; it is skipped until its URL changes. */
    WebhookEndpointDisabled: { siteId: string; url: string; banEventId: string; status: number };
  }
}

defineEvent(
  'BanBroadcastQueued',
  1,
  {},
  {
    fields: { banEventId: 'string', banStreamId: 'string', banPosition: 'integer', userId: 'string', kind: 'string', siteIds: 'string[]' },
  },
);
defineEvent('BanNotificationRequeued', 1, {}, { fields: { banEventId: 'string', siteId: 'string', actor: 'string' } });
defineEvent(
  'BanNotificationDelivered',
  1,
  {},
  {
    fields: { banEventId: 'string', siteId: 'string', attempt: 'integer', status: 'integer', durationMs: 'number', format: 'string' },
  },
);
defineEvent(
  'BanNotificationFailed',
  1,
  {},
  {
    fields: {
      banEventId: 'string',
      siteId: 'string',
      attempt: 'integer',
      status: 'integer|null',
      error: 'string',
      durationMs: 'number',
      nextAttemptAt: 'string|null',
      receiverError: 'object|null?',
    },
  },
);
defineEvent(
  'BanNotificationAbandoned',
  1,
  {},
  { fields: { banEventId: 'string', siteId: 'string', attempts: 'integer', reason: 'string' } },
);
defineEvent('WebhookEndpointDisabled', 1, {}, { fields: { siteId: 'string', url: 'string', banEventId: 'string', status: 'integer' } });

export const broadcastStream = (banEventId: string): string => `broadcast-${banEventId}`;
export const deliveryStream = (banEventId: string, siteId: string): string => `delivery-${banEventId}-${siteId}`;
export const endpointStream = (siteId: string): string => `webhook-endpoint-${siteId}`;

export const KIND_OF: Record<string, NotificationKind | undefined> = {
  UserBanned: 'user.banned',
  UserUnbanned: 'user.unbanned',
  UserErased: 'user.erased',
};
