import type { BanNotification } from './notification.js';

/** The broker's signing keys as this plugin needs them (bound as TOKENS.SigningKeys by the kernel). */
export interface SetSigner {
  sign(payload: Record<string, unknown>, opts: { typ: string }): Promise<string>;
}

// RFC 8417 event types: RISC (OpenID RISC profile) for the account, CAEP for its sessions.
export const RISC_ACCOUNT_DISABLED = 'https://schemas.openid.net/secevent/risc/event-type/account-disabled';
export const RISC_ACCOUNT_ENABLED = 'https://schemas.openid.net/secevent/risc/event-type/account-enabled';
export const RISC_ACCOUNT_PURGED = 'https://schemas.openid.net/secevent/risc/event-type/account-purged';
export const CAEP_SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';

/**
 * The Security Event Token claims (RFC 8417 §2.2). `jti` is the ban event id, so a receiver
 * de-duplicates retries exactly as it would a `webhook-id` (RFC 8935 §2: the same SET is resent).
 * The subject is an `aliases` subject identifier (RFC 9493 §3.2.2): the broker's own `iss_sub` for
 * the user plus each linked external identity, i.e. every id the site may know the user by.
 */
export function setClaims(n: BanNotification, issuer: string, audience: string, nowSeconds: number): Record<string, unknown> {
  const subject = {
    format: 'aliases',
    identifiers: [
      { format: 'iss_sub', iss: issuer, sub: n.data.userId },
      ...n.data.identities.map((id) => {
        const at = id.lastIndexOf('@');
        return { format: 'iss_sub', iss: id.slice(at + 1), sub: id.slice(0, at) };
      }),
    ],
  };
  // NumericDate with milliseconds (RFC 7519 §2 allows fractions): a ban and the unban that follows
  // it within the same second still order correctly at the receiver.
  const eventTime = Date.parse(n.timestamp) / 1000;
  const events: Record<string, Record<string, unknown>> = {};
  if (n.type === 'user.banned') {
    events[RISC_ACCOUNT_DISABLED] = { subject };
    events[CAEP_SESSION_REVOKED] = {
      subject,
      event_timestamp: eventTime,
      initiating_entity: 'admin',
      reason_admin: { en: n.data.reason ?? '' },
    };
  } else if (n.type === 'user.unbanned') {
    events[RISC_ACCOUNT_ENABLED] = { subject };
  } else {
    events[RISC_ACCOUNT_PURGED] = { subject };
    events[CAEP_SESSION_REVOKED] = { subject, event_timestamp: eventTime, initiating_entity: 'admin' };
  }
  return { iss: issuer, aud: audience, iat: nowSeconds, jti: n.data.eventId, toe: eventTime, sub_id: subject, events };
}
