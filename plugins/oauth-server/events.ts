import { declareSecretFields, defineEvent } from '../../plugin/index.js';

/**
 * The OAuth server's facts. Refresh tokens and client secrets appear only as SHA-256 hashes;
 * authorization codes not at all (a redeemed code is known by the grant id derived from it).
 */
declare module '../../core/events/catalog.js' {
  interface EventMap {
    /** Stream `grant-<grantId>`, appended `no_stream`: the first redemption of a code wins on every node. */
    GrantIssued: {
      grantId: string;
      clientId: string;
      userId: string;
      sessionId: string | null;
      scope: string;
      refreshTokenHash: string | null;
      /** Absolute end of the refresh token chain (ISO). */
      expiresAt: string;
      authTime: number | null;
      /**
       * Log position of the login (`LoginSucceeded`) the grant comes from: a `CredentialsRevoked`,
       * ban or disable after it voids the grant. Absent in grants recorded before it existed (the
       * GrantIssued's own position stands in).
       */
      loginPosition?: number;
    };
    RefreshTokenRotated: { grantId: string; previousHash: string; newHash: string };
    GrantRevoked: { grantId: string; reason: string };
    /** Stream `oauth-at-<jti>`: one access token revoked (RFC 7009); kept until it would expire anyway. */
    AccessTokenRevoked: { jti: string; clientId: string; exp: number };
    /** Stream `client-assertion-<hash>`, appended `no_stream`: a private_key_jwt assertion used once (RFC 7523 §3). */
    ClientAssertionUsed: { clientId: string; jtiHash: string };
    /** Stream `consent-<userId>-<clientId>`. */
    ConsentGranted: { userId: string; clientId: string; scopes: string[] };
    ConsentDenied: { userId: string; clientId: string; scopes: string[] };
    /** Stream `oauth-bcl-<hash>`: one back-channel logout notification, claimed once across nodes. */
    BackChannelLogoutClaimed: { clientId: string; userId: string; sessionId: string | null; cause: string };
    BackChannelLogoutDelivered: { clientId: string; attempts: number };
    BackChannelLogoutFailed: { clientId: string; attempts: number; error: string };
  }
}

// Each with its data's fields: the kernel validates every append against them.
const FIELDS: Record<string, Record<string, string>> = {
  GrantIssued: {
    grantId: 'string',
    clientId: 'string',
    userId: 'string',
    sessionId: 'string|null',
    scope: 'string',
    refreshTokenHash: 'string|null',
    expiresAt: 'string',
    authTime: 'number|null',
    loginPosition: 'integer?',
  },
  RefreshTokenRotated: { grantId: 'string', previousHash: 'string', newHash: 'string' },
  GrantRevoked: { grantId: 'string', reason: 'string' },
  AccessTokenRevoked: { jti: 'string', clientId: 'string', exp: 'number' },
  ClientAssertionUsed: { clientId: 'string', jtiHash: 'string' },
  ConsentGranted: { userId: 'string', clientId: 'string', scopes: 'string[]' },
  ConsentDenied: { userId: 'string', clientId: 'string', scopes: 'string[]' },
  BackChannelLogoutClaimed: { clientId: 'string', userId: 'string', sessionId: 'string|null', cause: 'string' },
  BackChannelLogoutDelivered: { clientId: 'string', attempts: 'integer' },
  BackChannelLogoutFailed: { clientId: 'string', attempts: 'integer', error: 'string' },
  // Typed in the core catalog (streams `client-<id>`), written by this plugin only.
  ClientRegistered: { clientId: 'string', name: 'string' },
  ClientUpdated: { clientId: 'string' },
};
for (const [t, fields] of Object.entries(FIELDS)) defineEvent(t, 1, {}, { fields });
/** The events this plugin writes (BrokerPlugin.events). */
export const OAUTH_EVENTS = Object.keys(FIELDS);
// What the SIEM export and the admin pages withhold (core/events/secret-fields.ts).
declareSecretFields('GrantIssued', ['refreshTokenHash']);
declareSecretFields('RefreshTokenRotated', ['previousHash', 'newHash']);
declareSecretFields('ClientRegistered', ['secretHash']);
declareSecretFields('ClientUpdated', ['secretHash']);

export const grantStream = (grantId: string): string => `grant-${grantId}`;
export const consentStream = (userId: string, clientId: string): string => `consent-${userId}-${clientId}`;
