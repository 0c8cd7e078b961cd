import { declarePersonalFields, defineEvent } from '../../plugin/index.js';

/**
 * The plugin's facts. No secrets: key ids and nonces only (a nonce is single-use and useless once
 * spent; the signature and the encrypted inbound token are never recorded).
 */
declare module '../../core/events/catalog.js' {
  interface EventMap {
    /** Stream `handoffs-<userId>`: the broker vouched for the user to a site. */
    HandoffIssued: {
      siteId: string;
      userId: string;
      sessionId: string;
      version: 'v1' | 'v2';
      kid: string;
      siteNonce: string | null;
      brokerNonce: string | null;
      returnTo: string;
      expiresAt: string | null;
    };
    /** Stream `handoff-rejections`: a handoff (either direction) was refused, and why. */
    HandoffRejected: {
      direction: 'outbound' | 'inbound';
      /** Site or customer auth server id as given (truncated; may be unknown). */
      target: string;
      reason: string;
      ip: string | null;
    };
    /** Stream `handoff-request-<hash of the request signature>` (written with "no stream", so a signed request works once): a one-time URL was issued. */
    InboundHandoffIssued: { serverId: string; subject: string; jti: string; expiresAt: string };
    /** Stream `handoff-<jti>` (written with "no stream": once only, on any node). */
    InboundHandoffConsumed: { serverId: string; subject: string; jti: string };
  }
}

defineEvent(
  'HandoffIssued',
  1,
  {},
  {
    fields: {
      siteId: 'string',
      userId: 'string',
      sessionId: 'string',
      version: 'string',
      kid: 'string',
      siteNonce: 'string|null',
      brokerNonce: 'string|null',
      returnTo: 'string',
      expiresAt: 'string|null',
    },
  },
);
defineEvent('HandoffRejected', 1, {}, { fields: { direction: 'string', target: 'string', reason: 'string', ip: 'string|null' } });
defineEvent('InboundHandoffIssued', 1, {}, { fields: { serverId: 'string', subject: 'string', jti: 'string', expiresAt: 'string' } });
defineEvent('InboundHandoffConsumed', 1, {}, { fields: { serverId: 'string', subject: 'string', jti: 'string' } });
// About nobody the broker knows (a caller's address, a customer server's subject): under the day's key.
declarePersonalFields('HandoffRejected', ['ip']);
declarePersonalFields('InboundHandoffIssued', ['subject']);
declarePersonalFields('InboundHandoffConsumed', ['subject']);
