import type { RecordedEvent } from '../events/envelope.js';
import { Frontier } from './frontier.js';
import { entryOf, leafHash, type Hash } from './merkle.js';
import type { TreeLeaf } from './tree-port.js';

export type TamperKind =
  | 'position_gap' // an event is missing between two others (positions are dense on SQLite)
  | 'event_missing' // the tree has a leaf for a position the log no longer holds
  | 'leaf_mismatch' // the event at a position is not the one the tree recorded (edited, reordered, rewritten)
  | 'not_in_tree' // an event the tree does not hold (written around the store)
  | 'truncated' // the log ends before the tree or a checkpoint does
  | 'checkpoint_mismatch'; // the log's root at a checkpoint's size is not the checkpoint's root

export interface TamperFinding {
  kind: TamperKind;
  /** The first position affected. */
  position: number;
  detail: string;
}

/** A (size, root) pair the log must still produce: a checkpoint kept by an auditor or recorded by the broker. */
export interface RootClaim {
  label: string;
  size: number;
  root: Hash;
}

/**
 * Checks the log, event by event in position order, against the stored Merkle tree and against
 * checkpoints, recomputing the tree as it goes (bounded memory: one frontier). Each finding names
 * the first position it affects. The stored tree localises a change (leaf i holds the position and
 * the hash of the i-th event when it was appended); a checkpoint proves that the tree itself was
 * not rewritten along with the log, since its root is signed and kept outside the database.
 */
export class LogAuditor {
  readonly findings: TamperFinding[] = [];
  private readonly frontier = new Frontier();
  private readonly claims: RootClaim[];
  private lastPosition = 0;
  checked = 0;

  constructor(
    claims: RootClaim[],
    private readonly densePositions: boolean,
  ) {
    this.claims = [...claims].sort((a, b) => a.size - b.size);
  }

  private add(kind: TamperKind, position: number, detail: string): void {
    this.findings.push({ kind, position, detail });
  }

  /** One event, with the stored leaf of the same ordinal (undefined when the tree is shorter). */
  check(e: Pick<RecordedEvent, 'position' | 'hash'>, leaf: TreeLeaf | undefined): void {
    if (this.densePositions && e.position !== this.lastPosition + 1)
      this.add('position_gap', this.lastPosition + 1, `positions jump from ${this.lastPosition} to ${e.position}: event(s) deleted`);
    const h = leafHash(entryOf(e.hash));
    if (!leaf) this.add('not_in_tree', e.position, `the event at position ${e.position} is not in the tree`);
    else if (leaf.position !== e.position) {
      const first = Math.min(leaf.position, e.position);
      this.add(
        leaf.position < e.position ? 'event_missing' : 'leaf_mismatch',
        first,
        `leaf ${leaf.index} was the event at position ${leaf.position}, the log now has position ${e.position} there`,
      );
    } else if (!leaf.hash.equals(h))
      this.add(
        'leaf_mismatch',
        e.position,
        `the event at position ${e.position} is not the one appended there (edited, reordered or rewritten)`,
      );
    this.lastPosition = e.position;
    this.frontier.push(h);
    this.checked++;
    if (this.claims.length)
      for (const c of this.claims) if (c.size === this.frontier.size && !this.frontier.root().equals(c.root)) this.claimMismatch(c);
  }

  private claimMismatch(c: RootClaim): void {
    // The first change is the first finding of the tree comparison when there is one; when the tree
    // agrees with the log (both rewritten), the claim bounds it: somewhere in its first `size` events.
    const first = this.findings.filter((f) => f.kind !== 'checkpoint_mismatch')[0]?.position ?? 1;
    this.add('checkpoint_mismatch', first, `the log's first ${c.size} events do not have the root of ${c.label}`);
  }

  /** After the last event: leaves and claims beyond the log's end are truncation. */
  finish(treeLeavesLeft: TreeLeaf | undefined): TamperFinding[] {
    if (treeLeavesLeft)
      this.add(
        'truncated',
        treeLeavesLeft.position,
        `the tree continues (leaf ${treeLeavesLeft.index}, position ${treeLeavesLeft.position}) past the log's last event`,
      );
    for (const c of this.claims) {
      if (c.size > this.frontier.size)
        this.add('truncated', this.lastPosition + 1, `${c.label} covers ${c.size} events, the log holds ${this.frontier.size}`);
    }
    this.findings.sort((a, b) => a.position - b.position);
    return this.findings;
  }

  get first(): TamperFinding | undefined {
    return [...this.findings].sort((a, b) => a.position - b.position)[0];
  }

  root(): Hash {
    return this.frontier.root();
  }

  get size(): number {
    return this.frontier.size;
  }
}
