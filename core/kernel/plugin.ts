import type { Container } from 'inversify';
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
import type {
  IdentityProvider,
  DownstreamProtocol,
  IdentityEnricher,
  ProvisioningPolicy,
  Reactor,
} from './extension-points.js';

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
  register(ctx: PluginContext<Config, Web>): void | Promise<void>;
}

export interface PluginContext<Config = unknown, Web = unknown> {
  /** This plugin's config section, validated against `configSchema`. */
  readonly config: Config;
  readonly logger: Logger;
  readonly container: Container;
  readonly store: EventStore;
  readonly commands: CommandHandler;
  readonly users: Users;
  readonly projections: ProjectionEngine;
  readonly read: ReadModels;
  readonly login: LoginService;
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
