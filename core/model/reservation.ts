import { sha256 } from '../digest.js';
import { WrongExpectedRevision, type EventStore } from '../ports/event-store.js';
import type { CommandMeta } from './command-handler.js';
import { CommandRejected } from '../errors.js';

/**
 * Uniqueness by reservation streams: claiming a key appends to `<kind>-<sha256(key)>` with
 * "stream must not exist" (or "exactly the release revision" after a release), which every store
 * enforces atomically. The key is hashed so stream ids never carry an email address.
 */
const STALE_AFTER_MS = 60_000;

export type ReservationKind = 'email' | 'identity';

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();
export const identityKey = (issuer: string, subject: string): string => `${subject}@${issuer}`;

export function reservationStream(kind: ReservationKind, key: string): string {
  const k = kind === 'email' ? normalizeEmail(key) : key;
  return `${kind}-${sha256(k, 'hex').slice(0, 40)}`;
}

/** Current holder of a reservation, or null. */
export async function reservationHolder(store: EventStore, kind: ReservationKind, key: string): Promise<string | null> {
  const events = await store.readStream(reservationStream(kind, key));
  const last = events[events.length - 1];
  if (!last || last.type !== 'ReservationClaimed') return null;
  return (last.data as { userId: string }).userId;
}

/**
 * Claims `key` for `userId`. Idempotent for the same holder. Throws CommandRejected when another
 * user holds it. `isStale(holder)` lets the caller reclaim a reservation whose holder never came
 * to exist (a crash between the reservation and the user's first event).
 */
export async function claimReservation(
  store: EventStore,
  kind: ReservationKind,
  key: string,
  userId: string,
  meta: CommandMeta,
  isStale?: (holder: string) => Promise<boolean>,
): Promise<void> {
  const streamId = reservationStream(kind, key);
  for (let attempt = 0; attempt < 5; attempt++) {
    const events = await store.readStream(streamId);
    const last = events[events.length - 1];
    const metadata = { actor: meta.actor, causationId: meta.causationId ?? null, ...(meta.correlationId ? { correlationId: meta.correlationId } : {}) };
    const hashedKey = streamId.slice(kind.length + 1);
    if (last && last.type === 'ReservationClaimed') {
      const holder = (last.data as { userId: string }).userId;
      if (holder === userId) return;
      // Only a claim old enough that its holder's own append must have happened long ago may be
      // taken over; a fresh one may belong to a login still in flight.
      const oldEnough = Date.now() - Date.parse(last.metadata.recordedAt) > STALE_AFTER_MS;
      if (!(isStale && oldEnough && (await isStale(holder)))) {
        throw new CommandRejected(kind === 'email' ? 'email address already in use' : 'identity already linked to another user');
      }
      try {
        await store.append(
          streamId,
          [
            { type: 'ReservationReleased', data: { key: hashedKey, userId: holder }, metadata },
            { type: 'ReservationClaimed', data: { key: hashedKey, userId }, metadata },
          ],
          { expectedRevision: last.revision },
        );
        return;
      } catch (e) {
        if (e instanceof WrongExpectedRevision) continue;
        throw e;
      }
    }
    try {
      await store.append(streamId, [{ type: 'ReservationClaimed', data: { key: hashedKey, userId }, metadata }], {
        expectedRevision: last ? last.revision : 'no_stream',
      });
      return;
    } catch (e) {
      if (e instanceof WrongExpectedRevision) continue;
      throw e;
    }
  }
  throw new CommandRejected(`could not claim ${kind} reservation under contention`);
}

export async function releaseReservation(
  store: EventStore,
  kind: ReservationKind,
  key: string,
  userId: string,
  meta: CommandMeta,
): Promise<void> {
  const streamId = reservationStream(kind, key);
  const events = await store.readStream(streamId);
  const last = events[events.length - 1];
  if (!last || last.type !== 'ReservationClaimed' || (last.data as { userId: string }).userId !== userId) return;
  await store.append(
    streamId,
    [{ type: 'ReservationReleased', data: { key: streamId.slice(kind.length + 1), userId }, metadata: { actor: meta.actor } }],
    { expectedRevision: last.revision },
  );
}
