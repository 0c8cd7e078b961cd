import { randomUUID } from 'node:crypto';
import type { NewEvent, RecordedEvent, EventMetadata } from './envelope.js';
import { eventHash } from './hash-chain.js';
import { currentVersion } from './schema-versions.js';

/**
 * Turns new events into envelopes chained to the stream's last hash. Every adapter calls this
 * inside its append (under its own lock/transaction) so the chain is computed identically.
 * `firstPosition` is the global position of the first event (adapters that only learn positions
 * after the insert pass 0 and patch `position` afterwards; the hash does not cover it).
 */
export function sealEvents(
  streamId: string,
  events: NewEvent[],
  lastRevision: number,
  lastHash: string,
  firstPosition: number,
  now: () => Date = () => new Date(),
): RecordedEvent[] {
  const out: RecordedEvent[] = [];
  let prevHash = lastHash;
  const recordedAt = now().toISOString();
  events.forEach((e, i) => {
    const metadata: EventMetadata = {
      ...(e.metadata ?? {}),
      recordedAt: e.metadata?.recordedAt ?? recordedAt,
      actor: e.metadata?.actor ?? 'system',
      correlationId: e.metadata?.correlationId ?? randomUUID(),
      causationId: e.metadata?.causationId ?? null,
    };
    const partial = {
      id: e.id ?? randomUUID(),
      streamId,
      revision: lastRevision + 1 + i,
      type: e.type,
      version: e.version ?? currentVersion(e.type),
      data: e.data as unknown,
      metadata,
      prevHash,
    };
    const hash = eventHash(partial);
    out.push({ ...partial, position: firstPosition ? firstPosition + i : 0, hash });
    prevHash = hash;
  });
  return out;
}
