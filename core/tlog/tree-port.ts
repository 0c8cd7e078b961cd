import type { Hash } from './merkle.js';

/** One leaf of the log's Merkle tree: the event at `position`, hashed as RFC 9162 says. */
export interface TreeLeaf {
  index: number;
  position: number;
  /** leafHash(entryOf(event.hash)). */
  hash: Hash;
}

/** A signed checkpoint as recorded in the store (the note text is what was signed and published). */
export interface StoredCheckpoint {
  size: number;
  root: Hash;
  /** The whole signed note (C2SP tlog-checkpoint body + signature lines). */
  note: string;
  issuedAt: string;
}

/** What one witness answered when a checkpoint was pushed to it. */
export interface WitnessAck {
  size: number;
  witness: string;
  ok: boolean;
  /** The witness's cosignature line(s) or the error, trimmed. */
  detail: string;
  at: string;
}

/**
 * The log's Merkle tree as a store keeps it in its own database (port; SQLite and PostgreSQL
 * implement it, the memory and EventStoreDB stores do not). Complete subtrees are stored by
 * (level, index); leaf i is the i-th event in position order.
 */
export interface TransparencyTree {
  /** Leaves in the tree. A store whose tree follows the log asynchronously catches up first. */
  size(): Promise<number>;
  /** Stored node hashes by `nodeKey(level, index)`; level 0 are the leaves. Absent keys are absent. */
  nodes(keys: ReadonlyArray<readonly [number, number]>): Promise<Map<string, Hash>>;
  /** Leaves with index >= from, in order, at most `limit`. */
  leaves(from: number, limit: number): Promise<TreeLeaf[]>;
  /** The leaf standing for the event at `position`, or null. */
  leafAtPosition(position: number): Promise<TreeLeaf | null>;
  /**
   * Drops every node and rebuilds the tree from the log as it is now, forgetting the checkpoints
   * the rebuilt tree cannot have (size >= its new size). Only after an operator accepted a
   * contradiction (the override event keeps the old checkpoint's note).
   */
  rebuild(): Promise<void>;
  recordCheckpoint(c: StoredCheckpoint): Promise<void>;
  /** Most recent first. */
  checkpoints(limit: number): Promise<StoredCheckpoint[]>;
  recordWitnessAck(a: WitnessAck): Promise<void>;
  witnessAcks(size: number): Promise<WitnessAck[]>;
}

/** The tree lacks a node it should hold (rows deleted, or a gap in positions). */
export class TreeNodeMissing extends Error {
  override readonly name = 'TreeNodeMissing';
  constructor(
    readonly level: number,
    readonly index: number,
  ) {
    super(`the transparency tree has no node at level ${level} index ${index}`);
  }
}

/** An event would enter the tree out of position order or after a gap (SQLite positions are dense). */
export class TreePositionGap extends Error {
  override readonly name = 'TreePositionGap';
  constructor(
    readonly expected: number,
    readonly got: number,
  ) {
    super(`transparency tree: expected the event at position ${expected} next, got position ${got}`);
  }
}
