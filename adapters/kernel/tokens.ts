import { token, type ConsoleSource, type PasswordLinks } from '../../core/index.js';
import type { TotpService } from '../crypto/totp.js';
import type { SiteRegistry } from './site-registry.js';
import type { SigningKeys } from '../crypto/signing-keys.js';
import type { Mailer } from '../mail/mailer.js';

/**
 * Container keys. Since issue 22 inversify holds two kinds of thing and says which:
 * - the kernel's own services (event store, command handler, keys, config...), bound for the
 *   kernel and for tests through `broker.container`; a plugin never sees them (no `ctx.container`);
 * - the typed cross-plugin services (`Token<T>`, below the line), which plugins reach through
 *   `ctx.services` with the privilege each one needs (see adapters/kernel/plugin-capabilities.ts).
 * The wiring itself stays by hand in boot.ts: each service is built once, in order, from config,
 * and a container resolving constructors would add indirection without removing any of it.
 */
export const TOKENS = {
  Config: Symbol.for('broker.Config'),
  EventStore: Symbol.for('broker.EventStore'),
  CommandHandler: Symbol.for('broker.CommandHandler'),
  Users: Symbol.for('broker.Users'),
  Projections: Symbol.for('broker.Projections'),
  ReadModels: Symbol.for('broker.ReadModels'),
  LoginService: Symbol.for('broker.LoginService'),
  Clock: Symbol.for('broker.Clock'),
  Ids: Symbol.for('broker.Ids'),
  Logger: Symbol.for('broker.Logger'),
  Keys: Symbol.for('broker.Keys'),
  /** ClusterNode (core/reactors/cluster-node.ts): this node's id, its reactor leases and duplicate counts. */
  Cluster: Symbol.for('broker.Cluster'),
  /** CheckpointIssuer (adapters/tlog/checkpoint-issuer.ts), or null on a store without a tree. */
  Checkpoints: Symbol.for('broker.Checkpoints'),
  IdentityProvider: Symbol.for('broker.IdentityProvider'),
  DownstreamProtocol: Symbol.for('broker.DownstreamProtocol'),
  IdentityEnricher: Symbol.for('broker.IdentityEnricher'),
  ProvisioningPolicy: Symbol.for('broker.ProvisioningPolicy'),
  Reactor: Symbol.for('broker.Reactor'),

  // ── cross-plugin services (ctx.services) ──
  /** The configured sites with their secrets (privilege `sites`). */
  Sites: token<SiteRegistry>('broker.Sites'),
  /** The broker's JWS keys and JWKS (privilege `signing`). */
  SigningKeys: token<SigningKeys>('broker.SigningKeys'),
  /** SMTP from config `mail`, null when not configured (privilege `mail`). */
  Mailer: token<Mailer | null>('broker.Mailer'),
  /** `admin.apiTokens` from the broker config (privilege `console`). */
  AdminApiTokens: token<{ name: string; tokenHash: string }[]>('broker.AdminApiTokens'),
  /** Password reset / invitation links (core/login/password-links.ts; privilege `credentials`). */
  PasswordLinks: token<PasswordLinks>('broker.PasswordLinks'),
  /** TOTP checks under the broker's `totp-secret` key, for one issuer label (privilege `credentials`). */
  Totp: token<(issuer: string) => TotpService>('broker.Totp'),
  /** One per plugin that shows data in the operator console; read by the console (privilege `console`). */
  ConsoleSource: token<ConsoleSource>('broker.ConsoleSource'),
  /** True when a verified access token's grant or jti was revoked; provided by oauth-server. */
  AccessTokenRevoked: token<(claims: Record<string, unknown>) => boolean>('broker.AccessTokenRevoked'),
  /** The `iss` of the access tokens the broker issues, provided by oauth-server; the base URL when absent. */
  AccessTokenIssuer: token<string>('broker.AccessTokenIssuer'),
} as const;
