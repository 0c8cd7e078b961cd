import { createHmac } from 'node:crypto';
import { sha256 } from '../digest.js';
import { WrongExpectedRevision, type EventStore } from '../ports/event-store.js';
import type { CommandMeta } from './command-handler.js';
import { CommandRejected } from '../errors.js';

/**
 * Uniqueness by reservation streams: claiming a key appends to `<kind>-<sha256(key)>` with
 * "stream must not exist" (or "exactly the release revision" after a release), which every store
 * enforces atomically. The key is hashed so stream ids never carry an email address: with a secret
 * (the broker's, derived from the master key) by HMAC-SHA256, so the log holds no hash that a list
 * of addresses could be checked against; without one (logs written before issue 19, and tests) by
 * plain SHA-256. A broker with a secret still honours, and releases, claims made under the plain
 * names.
 */
const STALE_AFTER_MS = 60_000;

export type ReservationKind = 'email' | 'identity';

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();
export const identityKey = (issuer: string, subject: string): string => `${subject}@${issuer}`;

export function reservationStream(kind: ReservationKind, key: string, secret?: Buffer): string {
  const k = kind === 'email' ? normalizeEmail(key) : key;
  const h = secret ? createHmac('sha256', secret).update(`${kind}:${k}`).digest('hex') : sha256(k, 'hex');
  return `${kind}-${h.slice(0, 40)}`;
}

async function holderOf(store: EventStore, streamId: string): Promise<string | null> {
  const events = await store.readStream(streamId);
  const last = events[events.length - 1];
  if (!last || last.type !== 'ReservationClaimed') return null;
  return (last.data as { userId: string }).userId;
}

/** Current holder of a reservation, or null. */
export async function reservationHolder(store: EventStore, kind: ReservationKind, key: string, secret?: Buffer): Promise<string | null> {
  const holder = await holderOf(store, reservationStream(kind, key, secret));
  if (holder || !secret) return holder;
  return holderOf(store, reservationStream(kind, key));
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
  secret?: Buffer,
): Promise<void> {
  if (secret) {
    // A claim made under the plain name before keyed names existed still holds the key.
    const legacy = await holderOf(store, reservationStream(kind, key));
    if (legacy && legacy !== userId && !(isStale && (await isStale(legacy)))) {
      throw new CommandRejected(kind === 'email' ? 'email address already in use' : 'identity already linked to another user');
    }
  }
  const streamId = reservationStream(kind, key, secret);
  for (let attempt = 0; attempt < 5; attempt++) {
    const events = await store.readStream(streamId);
    const last = events[events.length - 1];
    const metadata = {
      actor: meta.actor,
      causationId: meta.causationId ?? null,
      ...(meta.correlationId ? { correlationId: meta.correlationId } : {}),
    };
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
  secret?: Buffer,
): Promise<void> {
  if (secret) await releaseOn(store, reservationStream(kind, key), kind, userId, meta);
  await releaseOn(store, reservationStream(kind, key, secret), kind, userId, meta);
}

async function releaseOn(store: EventStore, streamId: string, kind: ReservationKind, userId: string, meta: CommandMeta): Promise<void> {
  const events = await store.readStream(streamId);
  const last = events[events.length - 1];
  if (!last || last.type !== 'ReservationClaimed' || (last.data as { userId: string }).userId !== userId) return;
  await store.append(
    streamId,
    [{ type: 'ReservationReleased', data: { key: streamId.slice(kind.length + 1), userId }, metadata: { actor: meta.actor } }],
    { expectedRevision: last.revision },
  );
}
