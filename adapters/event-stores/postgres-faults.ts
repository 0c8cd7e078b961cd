import type { Logger, StoreFaults } from '../../core/index.js';

/** The message of a driver error, never the error object (pg errors can carry query parameters). */
const why = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * What the PostgreSQL store went through, as counts for /metrics and warn lines for the operator:
 * connections lost (a backend terminated, a server restart, the network), the LISTEN connection
 * re-established, operations retried after a connection error. Without these a cluster riding out
 * hundreds of dropped connections looks perfectly quiet.
 */
export class PgFaultLog implements StoreFaults {
  connectionsLost = 0;
  listenerReconnects = 0;
  retries = 0;

  constructor(
    private readonly schema: string,
    private readonly logger?: Logger,
  ) {}

  /** A pooled connection died (idle or in use); the pool replaces it. */
  connectionLost(err: unknown): void {
    this.connectionsLost++;
    this.logger?.warn({ schema: this.schema, err: why(err) }, 'postgres: connection lost');
  }

  listenerLost(err: unknown): void {
    this.connectionsLost++;
    this.logger?.warn(
      { schema: this.schema, err: why(err) },
      'postgres: LISTEN connection lost; reconnecting (subscriptions poll meanwhile)',
    );
  }

  listenerReconnected(): void {
    this.listenerReconnects++;
    this.logger?.warn({ schema: this.schema }, 'postgres: LISTEN connection re-established');
  }

  /** An operation failed on a connection error and runs again after `delayMs`. */
  retried(op: string, attempt: number, delayMs: number, err: unknown): void {
    this.retries++;
    this.logger?.warn({ schema: this.schema, op, attempt, delayMs, err: why(err) }, 'postgres: retrying after a connection error');
  }
}
