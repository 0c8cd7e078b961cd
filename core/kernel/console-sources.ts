/**
 * What a plugin shows in the operator console, as plain data: the admin plugin renders it and
 * calls back for the actions. A plugin binds one under `TOKENS.ConsoleSource`; the console reads
 * every bound source at request time, so the order plugins load in does not matter. Everything
 * here reads the plugin's read models (never the log) and holds no secret.
 */
export interface ConsoleSource {
  /** The plugin's name (`oauth-server`, `ban-broadcast`). */
  readonly name: string;
  /** Credentials the plugin holds for a user (OAuth grants and their tokens), newest first. */
  userCredentials?(userId: string): ConsoleCredential[];
  /** Revokes one of `userCredentials` and waits for the read models; false when it was not live (or not the user's). */
  revokeCredential?(userId: string, credentialId: string, actor: string): Promise<boolean>;
  /** Ban notifications sent to sites, newest first (one user's with `userId`). */
  banDeliveries?(opts: { userId?: string; limit: number }): ConsoleBanBroadcast[];
  /** Sends one (ban, site) notification again; returns the log position written. */
  retryDelivery?(banEventId: string, siteId: string, actor: string): Promise<number>;
  /** Downstream clients the plugin serves (OAuth clients). */
  clients?(): ConsoleClient[];
}

export interface ConsoleCredential {
  id: string;
  /** `OAuth grant`... */
  kind: string;
  /** Who it was issued to (a client id). */
  audience: string;
  scope: string;
  /** ISO time, or null when it never expires. */
  expiresAt: string | null;
  revoked: boolean;
  /** What revoking ends (`refresh token and its access tokens`). */
  covers: string;
}

export type ConsoleDeliveryStatus = 'pending' | 'retrying' | 'delivered' | 'abandoned';

export interface ConsoleBanBroadcast {
  banEventId: string;
  userId: string;
  /** In words: `ban`, `unban`, `erasure`. */
  kind: string;
  queuedAt: string;
  sites: { siteId: string; status: ConsoleDeliveryStatus; attempts: number; detail: string; at: string | null }[];
}

export interface ConsoleClient {
  clientId: string;
  name: string;
  kind: string;
  redirectUris: string[];
  scopes: string[];
  grantTypes: string[];
  /** Live grants of this client (from the read model). */
  liveGrants: number;
  details: { label: string; value: string }[];
}
