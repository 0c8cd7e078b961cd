/**
 * Pure mapping between the broker's envelope and EventStoreDB events (no I/O, unit-tested without
 * a server). The broker's fields the hash chain covers travel in the esdb event's metadata under
 * `broker`, so a log read back from EventStoreDB verifies with the same ChainVerifier.
 */
import { createHash } from 'node:crypto';
import type { EventMetadata, ExpectedRevision, RecordedEvent } from '../../core/index.js';

/** EventStoreDB's position of a record in its transaction log. */
export interface EsdbPosition {
  commit: bigint;
  prepare: bigint;
}

/** What `appendToStream` takes (the client's JSONEventData, kept structural here). */
export interface EsdbEventData {
  id: string;
  contentType: 'application/json';
  type: string;
  data: unknown;
  metadata: EsdbMetadata;
}

export interface EsdbMetadata {
  /** EventStoreDB's own conventions, so its projections and UI can follow correlations. */
  $correlationId?: string;
  $causationId?: string;
  broker: {
    /** Our id when it is not a UUID (EventStoreDB requires UUIDs). */
    id?: string;
    revision: number;
    version: number;
    prevHash: string;
    hash: string;
    metadata: EventMetadata;
  };
}

/** The subset of the client's recorded event the mapping reads. */
export interface EsdbRecorded {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  data: unknown;
  metadata: unknown;
  position?: EsdbPosition;
}

export class EsdbMappingError extends Error {
  override readonly name = 'EsdbMappingError';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A stable UUID for a non-UUID id (same id, same UUID: appends stay idempotent on retry). */
export function esdbEventId(id: string): string {
  if (UUID.test(id)) return id.toLowerCase() === id ? id : id.toLowerCase();
  const h = createHash('sha256').update(id).digest('hex');
  // RFC 9562 UUIDv8 layout: version nibble 8, variant 10xx.
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function toEsdbEvent(e: RecordedEvent): EsdbEventData {
  const esdbId = esdbEventId(e.id);
  return {
    id: esdbId,
    contentType: 'application/json',
    type: e.type,
    data: e.data,
    metadata: {
      $correlationId: e.metadata.correlationId,
      ...(e.metadata.causationId ? { $causationId: e.metadata.causationId } : {}),
      broker: {
        ...(esdbId === e.id ? {} : { id: e.id }),
        revision: e.revision,
        version: e.version,
        prevHash: e.prevHash,
        hash: e.hash,
        metadata: e.metadata,
      },
    },
  };
}

/** True for streams the broker never writes: EventStoreDB's system streams (`$...`). */
export const isSystemStream = (streamId: string): boolean => streamId.startsWith('$');

/**
 * The broker's envelope for an esdb event, or null for an event the broker did not write (system
 * streams, other applications sharing the database). The port's position is the record's
 * prepare position: unique per event and increasing in `$all` order (commit positions repeat
 * within a multi-event append). Not dense — the port only promises strictly increasing.
 */
export function fromEsdbEvent(r: EsdbRecorded, position?: EsdbPosition): RecordedEvent | null {
  if (isSystemStream(r.streamId)) return null;
  const meta = r.metadata as Partial<EsdbMetadata> | undefined;
  const b = meta && typeof meta === 'object' ? meta.broker : undefined;
  if (!b || typeof b !== 'object' || typeof b.hash !== 'string') return null;
  if (BigInt(b.revision) !== r.revision) {
    throw new EsdbMappingError(`event ${r.id} in ${r.streamId}: esdb revision ${r.revision} but broker revision ${b.revision}`);
  }
  const pos = position ?? r.position;
  return {
    id: b.id ?? r.id,
    streamId: r.streamId,
    revision: b.revision,
    position: pos ? Number(pos.prepare) : 0,
    type: r.type,
    version: b.version,
    data: r.data,
    metadata: b.metadata,
    prevHash: b.prevHash,
    hash: b.hash,
  };
}

/**
 * The revision the adapter sends with an append. The adapter always chains to the last event it
 * read, so it appends with that exact revision (or no_stream) whatever the caller asked for; the
 * caller's mode is checked against the same read first. This keeps the hash chain sound: no
 * event can slip in between the read of the previous hash and the write.
 */
export function exactExpectedRevision(current: number): 'no_stream' | bigint {
  return current < 0 ? 'no_stream' : BigInt(current);
}

/** The port's mode as EventStoreDB spells it (for callers that append without chaining, e.g. tools). */
export function toEsdbExpectedRevision(e: ExpectedRevision | undefined): 'any' | 'no_stream' | 'stream_exists' | bigint {
  if (e === undefined || e === 'any') return 'any';
  if (e === 'no_stream' || e === 'stream_exists') return e;
  return BigInt(e);
}

/** EventStoreDB's current revision (`no_stream` or a bigint) as the port's number (-1 = none). */
export function fromEsdbCurrentRevision(r: 'no_stream' | bigint | undefined): number {
  return r === undefined || r === 'no_stream' ? -1 : Number(r);
}
