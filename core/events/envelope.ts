import type { DomainEvent, EventType, EventMap } from './catalog.js';

/** Who and why: carried with every event, covered by the hash chain. */
export interface EventMetadata {
  recordedAt: string;
  /** `user:<id>`, `admin:<id>`, `cli:<os user>`, `system`, `plugin:<name>` */
  actor: string;
  correlationId: string;
  causationId: string | null;
  [key: string]: unknown;
}

/** What a caller hands to `append`. Ids and metadata are filled in by the command handler. */
export interface NewEvent<E extends DomainEvent = DomainEvent> {
  id?: string;
  type: E['type'];
  data: E['data'];
  version?: number;
  metadata?: Partial<EventMetadata>;
}

/** An event as stored: the envelope. */
export interface RecordedEvent<T extends string = string, D = unknown> {
  id: string;
  streamId: string;
  /** 0-based revision within the stream. */
  revision: number;
  /** 1-based, gap-free-by-order global position in the store (`$all`). */
  position: number;
  type: T;
  /** Schema version of `data` as written. Readers see it upcast to the current version. */
  version: number;
  data: D;
  metadata: EventMetadata;
  /** Hash of the previous event in this stream ('' for the first). */
  prevHash: string;
  /** SHA-256 (hex) over the canonical encoding of this event and `prevHash`. */
  hash: string;
}

/** A recorded event whose type is one the catalog knows, narrowed by `type`. */
export type KnownEvent = { [K in EventType]: RecordedEvent<K, EventMap[K]> }[EventType];

export function isEvent<K extends EventType>(e: RecordedEvent, type: K): e is RecordedEvent<K, EventMap[K]> {
  return e.type === type;
}
