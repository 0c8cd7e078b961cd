/**
 * The data keys that personal fields of events are encrypted under (one per user, `u:<userId>`,
 * and one per day for events about nobody, `d:<yyyy-mm-dd>`), each wrapped by a key derived from
 * the master key. Kept beside the log in the store's own database but not in it: destroying a
 * key is how a person is erased (crypto-shredding), and a log row is never rewritten.
 *
 * A destroyed key leaves a tombstone (the id, no key), so a reader can tell "erased" from "never
 * existed" and a late writer cannot bring an erased person's key back.
 */
export interface DataKeyTable {
  /** The wrapped keys of these ids: a Buffer, `null` for a destroyed key, absent when none exists. */
  get(ids: readonly string[]): Promise<Map<string, Buffer | null>>;
  /**
   * Stores `wrapped` under `id` unless a key or tombstone is there already, and returns what is
   * stored then (two nodes creating the same user's key at once both get the one that won).
   */
  create(id: string, wrapped: Buffer): Promise<Buffer | null>;
  /** Replaces the key by a tombstone (its bytes overwritten where the database allows). True if a key was there. */
  destroy(id: string): Promise<boolean>;
  /** Ids of live keys whose id starts with `prefix` and sorts before `before` (day keys past retention). */
  liveBefore(prefix: string, before: string): Promise<string[]>;
  /** Rewrites the table so destroyed keys' bytes leave the database's free space too (PostgreSQL: VACUUM FULL). */
  compact?(): Promise<void>;
  /** A page of every key and tombstone in id order, after `after` (`broker events copy` takes them along). */
  entries(after: string, limit: number): Promise<{ id: string; wrapped: Buffer | null }[]>;
  /**
   * Copies one entry from another store's table: a key is stored unless one is there; a
   * tombstone destroys whatever is there (an erasure is never undone by a copy).
   */
  copyIn(id: string, wrapped: Buffer | null): Promise<void>;
  /** How many keys exist and were destroyed (metrics). */
  counts(): Promise<{ live: number; destroyed: number }>;
}

/**
 * An append carried a new data key for an id that already has another key (or a tombstone): two
 * writers made the same person's first key at once. Nothing of the append was written; the writer
 * loads the stored key and seals again.
 */
export class DataKeyConflict extends Error {
  override readonly name = 'DataKeyConflict';
  constructor(readonly keyId: string) {
    super(`data key ${keyId} was created by another writer`);
  }
}
