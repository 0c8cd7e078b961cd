import type { RecordedEvent } from '../events/envelope.js';
import type { ReadDatabase } from '../ports/read-database.js';

/**
 * A read model kept in process memory: a fold over `$all`. `apply` sees each event once, in global
 * order, already upcast to its current version.
 *
 * `replay: 'beginning'` (the default) replays the whole log into it at every start, so its start-up
 * cost grows with the log: keep it for small, bounded state. `replay: 'live'` sees only events
 * appended after the start (metrics, caches; load what you need yourself, e.g. from one stream).
 * Everything kept per user, per session or per event belongs in a {@link PersistedProjection}.
 */
export interface Projection {
  readonly name: string;
  readonly replay?: 'beginning' | 'live';
  apply(event: RecordedEvent): void;
  /** Forget everything (before a full replay). */
  reset(): void;
  /** Position of the last event applied; maintained by the engine. */
  checkpoint: number;
}

/**
 * A read model whose rows live in the read database, with its checkpoint committed in the same
 * transaction as its rows: a restart resumes from the checkpoint and applies only the tail, and a
 * crash can never leave rows and checkpoint apart.
 *
 * - `version`: bump it when `apply` or the tables change; the engine then drops `tables` and
 *   rebuilds the projection from the log (the others keep serving).
 * - `open(db)`: create the tables if missing (`CREATE TABLE IF NOT EXISTS`) and prepare statements.
 * - `apply(event)`: runs inside the engine's transaction; deterministic (same log, same rows: read
 *   times from the event, never from a clock). A process-memory cache may *drop* entries here,
 *   never fill them (a rolled-back batch must not leave a cache ahead of the rows).
 * - `maintain(now)`: optional housekeeping run on a timer outside the fold (e.g. expired sessions
 *   leaving their table after a retention); it must not change what a live request would answer.
 */
export interface PersistedProjection {
  readonly name: string;
  readonly version: number;
  readonly tables: readonly string[];
  open(db: ReadDatabase): void;
  apply(event: RecordedEvent): void;
  maintain?(now: Date): void;
  /** Optional: drop every process-memory cache (another process applied events to the rows). */
  forget?(): void;
}

export type AnyProjection = Projection | PersistedProjection;

export function isPersisted(p: AnyProjection): p is PersistedProjection {
  return typeof (p as PersistedProjection).open === 'function' && typeof (p as PersistedProjection).version === 'number';
}

export interface UnknownEventReport {
  position: number;
  type: string;
  version: number;
  reason: string;
}

export { ProjectionEngine, type ProjectionStatus, type RebuildReason } from './projection-engine.js';
export { replayLog } from './replay-log.js';
