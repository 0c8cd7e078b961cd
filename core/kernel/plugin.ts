import type { Observable } from 'rxjs';
import type { EventStore } from '../ports/event-store.js';
import type { RecordedEvent } from '../events/envelope.js';
import type { CommandHandler } from '../model/command-handler.js';
import type { Users } from '../model/users.js';
import type { ProjectionEngine, AnyProjection } from '../read/projection.js';
import type { Clock, Ids } from '../ids.js';
import type { Logger } from '../ports/logger.js';
import type { LoginService } from '../login/login-service.js';
import type { ReadModels } from '../read/read-models.js';
import type { ClusterNode } from '../reactors/cluster-node.js';
import type { LeaseOptions, StreamLease } from '../reactors/lease.js';
import type { StreamCheckpoint } from '../reactors/checkpoint.js';
import type { IdentityProvider, DownstreamProtocol, IdentityEnricher, ProvisioningPolicy, Reactor } from './extension-points.js';

/** A JSON Schema (draft 2020-12 subset that Ajv understands). */
export type JsonSchema = Record<string, unknown>;

/**
 * A plugin: a name, the JSON schema of its config section, and `register`. The built-in plugins
 * and an integrator's own use exactly this API. `Web` is the HTTP side the kernel hands over
 * (a fastify scope and page helpers; see adapters/http/web-kit.ts): the core does not know HTTP.
 */
export interface BrokerPlugin<Config = unknown, Web = unknown> {
  readonly name: string;
  readonly configSchema?: JsonSchema;
  /**
   * The event types this plugin writes: each defined with `defineEvent(type, version, upcasters,
   * { fields | schema })` (the data is validated against it on every append), none a core event,
   * none declared by another loaded plugin. `ctx.store.append` refuses any other type.
   */
  readonly events?: readonly string[];
  /** Stream-name prefixes this plugin appends to (`grant-`, `consent-`); its namespace. */
  readonly streams?: readonly string[];
  /** Capabilities beyond the default (PluginPrivilege). Honoured for the built-in plugins only. */
  readonly privileges?: readonly PluginPrivilege[];
  register(ctx: PluginContext<Config, Web>): void | Promise<void>;
}

/**
 * What a plugin may do beyond its own events, keys, config and extension points. Each one is a
 * door into what the broker as a whole holds, so only the built-in plugins get them (the kernel
 * refuses a privilege on any other plugin at start):
 * - `user-admin`: the administrator's user commands (grant/revoke admin, disable, enable, ban,
 *   unban, erase, revoke credentials, assign roles, unlink an identity, register an admin);
 * - `credentials`: set a user's password, enrol/remove TOTP, use a recovery code, link an identity;
 * - `signing`: the broker's JWS signing keys (mint tokens the broker vouches for);
 * - `sites`: the configured sites with their shared secrets;
 * - `mail`: the configured SMTP mailer;
 * - `console`: every plugin's console source and the admin API tokens (the operator console);
 * - `login-step`: complete a login another identity provider started (a second factor its own
 *   enricher asked for, which re-checks the identity the first provider vouched for).
 */
export type PluginPrivilege = 'user-admin' | 'credentials' | 'signing' | 'sites' | 'mail' | 'console' | 'login-step';

/**
 * A typed service key. A service is provided once by the kernel or a plugin (`ctx.services.provide`)
 * and read back typed (`ctx.services.get`), never by an unchecked cast.
 */
export type Token<T> = symbol & { readonly __service?: T };
export const token = <T>(description: string): Token<T> => Symbol.for(description) as Token<T>;

/** Cross-plugin services: what one plugin provides for others (see adapters/kernel/tokens.ts). */
export interface PluginServices {
  /** The service, or throws when nobody provided it (or it needs a privilege this plugin lacks). */
  get<T>(t: Token<T>): T;
  /** The service, or null when nobody provided it. */
  optional<T>(t: Token<T>): T | null;
  /** Every value provided under a multi-valued token (console sources). */
  getAll<T>(t: Token<T>): T[];
  /** Provides a service for other plugins; a single-valued token provided twice is a start error. */
  provide<T>(t: Token<T>, value: T): void;
}

export interface PluginReactorState {
  lease(options: LeaseOptions): StreamLease;
  checkpoint(reactor: string): StreamCheckpoint;
}

/** This plugin's keys: HKDF from the master key under `plugin:<name>:<purpose>`. */
export interface PluginKeys {
  derive(purpose: string, length?: number): Buffer;
}

/**
 * The login service as a plugin sees it: registries read-only, and `complete` only for an
 * identity provider this plugin registered (recorded with the plugin's name).
 */
export interface PluginLogin extends Pick<
  LoginService,
  | 'requests'
  | 'sessionSettings'
  | 'validateSession'
  | 'needsRefresh'
  | 'refresh'
  | 'endSession'
  | 'endAllSessions'
  | 'recordFailure'
  | 'resolveUser'
  | 'complete'
> {
  readonly identityProviders: ReadonlyMap<string, IdentityProvider>;
  readonly protocols: ReadonlyMap<string, DownstreamProtocol>;
  readonly enrichers: readonly IdentityEnricher[];
  readonly policies: ReadonlyMap<string, ProvisioningPolicy>;
}

/** A capability the plugin does not hold: appending a core or undeclared event, another namespace, another IdP's login... */
export class PluginCapabilityError extends Error {
  constructor(
    readonly plugin: string,
    message: string,
  ) {
    super(`plugin ${plugin}: ${message}`);
    this.name = 'PluginCapabilityError';
  }
}

export interface PluginContext<Config = unknown, Web = unknown> {
  /** This plugin's config section, validated against `configSchema`. */
  readonly config: Config;
  readonly logger: Logger;
  /**
   * The event store with appends scoped to this plugin: only its declared events, validated, to
   * streams in its namespace, `metadata.plugin` stamped by the kernel. Reads see the whole log.
   */
  readonly store: EventStore;
  /** The command handler over the scoped store: a plugin's own Deciders. */
  readonly commands: CommandHandler;
  /** Core user commands; the administrative and credential ones need a privilege. */
  readonly users: Users;
  readonly projections: ProjectionEngine;
  readonly read: ReadModels;
  readonly login: PluginLogin;
  /** Keys derived for this plugin only. */
  readonly keys: PluginKeys;
  /** Typed cross-plugin services (no raw container). */
  readonly services: PluginServices;
  /**
   * A reactor's durable state, written by the core (core events on `lease-<name>` and
   * `reactor-<name>`): `name` is this plugin's name or starts with `<plugin name>.`.
   */
  readonly reactorState: PluginReactorState;
  readonly clock: Clock;
  readonly ids: Ids;
  /** The public base URL of the broker (no trailing slash). */
  readonly baseUrl: string;
  /** This node in the cluster: its id (`cluster.nodeId`), for lease holders; leases and duplicates for /metrics. */
  readonly cluster: ClusterNode;
  /** Every event, history then live. */
  events(after?: number): Observable<RecordedEvent>;
  readonly web: Web;
  readonly add: {
    identityProvider(p: IdentityProvider): void;
    downstreamProtocol(p: DownstreamProtocol): void;
    enricher(e: IdentityEnricher): void;
    provisioningPolicy(p: ProvisioningPolicy): void;
    /** A read model: persisted (rows in the node's read database) or in memory; see plugins/example/README.md. */
    projection(p: AnyProjection): void;
    reactor(r: Reactor): void;
  };
  /** Called on graceful stop, after the HTTP server stopped taking requests. */
  onStop(fn: () => Promise<void> | void): void;
}
