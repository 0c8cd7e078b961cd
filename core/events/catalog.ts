/**
 * The event catalog: every fact the broker records, as one typed map from event type to its
 * data. Names are past-tense facts. Plugins add their own events by augmenting `EventMap`:
 *
 *   declare module '../../core/index.js' { interface EventMap { HandoffIssued: { ... } } }
 *
 * and registering the type's schema version with `defineEvent` so the log knows it.
 * Secrets never appear here in clear text: password hashes, token hashes and key ids only.
 */
export interface EventMap {
  // --- users (stream `user-<userId>`)
  UserRegistered: { userId: string; email: string | null; name: string | null; admin?: boolean; via?: string };
  UserProfileUpdated: { userId: string; email?: string | null; name?: string | null };
  PasswordSet: { userId: string; passwordHash: string };
  TotpEnrolled: { userId: string; secretCipher: string; recoveryCodeHashes: string[] };
  TotpRemoved: { userId: string };
  RecoveryCodeUsed: { userId: string; index: number };
  AdminGranted: { userId: string };
  AdminRevoked: { userId: string };
  AccountDisabled: { userId: string; reason: string | null };
  AccountEnabled: { userId: string };
  UserBanned: { userId: string; reason: string; actor: string; until?: string | null };
  UserUnbanned: { userId: string; reason: string | null; actor: string };
  /** The user's data key is destroyed with it (issue 19): personal fields about them read `[erased]` from then on. */
  UserErased: { userId: string; actor: string; reason?: string | null };
  /**
   * Every credential issued for the user from a login before this event (sessions, OAuth grants
   * and their refresh and access tokens) is void, for good: "log out everywhere", and what a ban
   * or a disable does. Downstream protocols compare a credential's login position against it.
   */
  CredentialsRevoked: { userId: string; reason: string };
  ExternalIdentityLinked: { userId: string; issuer: string; subject: string; via?: string };
  ExternalIdentityUnlinked: { userId: string; issuer: string; subject: string };
  AccountProvisioned: { userId: string; issuer: string; subject: string; policy: string };
  RolesAssigned: { userId: string; roles: string[]; tenant?: string | null; source: string };

  // --- reservations (streams `email-<hash>`, `identity-<hash>`): uniqueness
  ReservationClaimed: { key: string; userId: string };
  ReservationReleased: { key: string; userId: string };

  // --- logins and sessions (stream `session-<id hash>` / `login-<userId>`)
  LoginSucceeded: {
    userId: string;
    sessionId: string;
    issuer: string;
    subject: string;
    amr: string[];
    roles?: string[];
    tenant?: string | null;
    ip?: string | null;
    userAgent?: string | null;
    expiresAt: string;
    idleTimeoutSeconds: number;
  };
  LoginFailed: { userId: string | null; issuer: string; subject?: string | null; reason: string; ip?: string | null };
  SessionRefreshed: { sessionId: string; userId: string };
  SessionEnded: { sessionId: string; userId: string; reason: string };
  AdminBootstrapped: { userId: string };
  /** `issuedBy`: the node that printed the URL (the others tell the operator to use that one). */
  SetupTokenIssued: { tokenHash: string; expiresAt: string; issuedBy?: string };

  // --- registry (streams `site-<id>`, `client-<id>`)
  SiteRegistered: {
    siteId: string;
    name: string;
    returnUrls: string[];
    webhookUrl?: string | null;
    fields?: string[];
    keyIds?: string[];
    [k: string]: unknown;
  };
  SiteUpdated: { siteId: string; [k: string]: unknown };
  /** `configRevision`: the config's `sitesRevision` that removed it (absent before revisions existed). */
  SiteRemoved: { siteId: string; configRevision?: number };
  ClientRegistered: { clientId: string; name: string; [k: string]: unknown };
  ClientUpdated: { clientId: string; [k: string]: unknown };

  // --- transparency log (stream `tlog-overrides`)
  /** An operator started the broker on a log that contradicts its latest signed checkpoint. */
  LogContradictionOverridden: { checkpointSize: number; checkpointRoot: string; checkpointNote: string; problem: string; actor: string };
}

export type EventType = keyof EventMap;

/** One domain event as a plain value: a discriminated union over `type`. */
export type DomainEvent = { [K in EventType]: { type: K; data: EventMap[K] } }[EventType];

export type EventOf<K extends EventType> = { type: K; data: EventMap[K] };
