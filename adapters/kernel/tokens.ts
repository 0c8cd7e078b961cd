/** Container keys for the core services (inversify service identifiers). */
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
  /** SiteRegistry (adapters/kernel/site-registry.ts): configured sites with their secrets. */
  Sites: Symbol.for('broker.Sites'),
  /** SigningKeys (adapters/crypto/signing-keys.ts): the broker's JWS keys and JWKS. */
  SigningKeys: Symbol.for('broker.SigningKeys'),
  /** `(claims) => boolean` bound by oauth-server: true when a verified access token's grant or jti was revoked. */
  AccessTokenRevoked: Symbol.for('broker.AccessTokenRevoked'),
  /** The `iss` of the access tokens the broker issues (a string), bound by oauth-server; the base URL when not bound. */
  AccessTokenIssuer: Symbol.for('broker.AccessTokenIssuer'),
  /** ConsoleSource (core/kernel/console-sources.ts), one per plugin that shows data in the operator console. */
  ConsoleSource: Symbol.for('broker.ConsoleSource'),
  /** Mailer | null (adapters/mail/mailer.ts): SMTP from config `mail`, null when not configured. */
  Mailer: Symbol.for('broker.Mailer'),
  IdentityProvider: Symbol.for('broker.IdentityProvider'),
  DownstreamProtocol: Symbol.for('broker.DownstreamProtocol'),
  IdentityEnricher: Symbol.for('broker.IdentityEnricher'),
  ProvisioningPolicy: Symbol.for('broker.ProvisioningPolicy'),
  Reactor: Symbol.for('broker.Reactor'),
} as const;
