import { EMPTY_ROOT, nodeHash, type Hash } from './merkle.js';

/** A complete subtree written when a leaf is appended. */
export interface TreeNode {
  level: number;
  index: number;
  hash: Hash;
}

/**
 * The right edge of a tree of `size` leaves: for each set bit `l` of size, the root of the
 * complete subtree (l, (size >> l) - 1). It is all an append needs to know, so appends cost
 * O(log n) and read nothing; `audit verify` folds a whole log through one in bounded memory.
 */
export class Frontier {
  /** hashes[l] is set exactly when bit l of size is set. */
  private readonly hashes: (Hash | undefined)[] = [];

  constructor(
    public size = 0,
    edge: ReadonlyMap<number, Hash> = new Map(),
  ) {
    for (const [l, h] of edge) this.hashes[l] = h;
  }

  /** The keys of the right edge of a tree of `size` (what a store loads to resume appending). */
  static edgeKeys(size: number): Array<[number, number]> {
    const keys: Array<[number, number]> = [];
    for (let l = 0; 2 ** l <= size; l++) if (Math.floor(size / 2 ** l) % 2 === 1) keys.push([l, Math.floor(size / 2 ** l) - 1]);
    return keys;
  }

  /** Appends a leaf hash; returns the nodes it completes, the leaf first (level 0). */
  append(leaf: Hash): TreeNode[] {
    const index = this.size;
    const out: TreeNode[] = [{ level: 0, index, hash: leaf }];
    let h = leaf;
    let level = 0;
    let i = index;
    while (i % 2 === 1) {
      h = nodeHash(this.hashes[level]!, h);
      this.hashes[level] = undefined;
      level++;
      i = Math.floor(i / 2);
      out.push({ level, index: i, hash: h });
    }
    this.hashes[level] = h;
    this.size++;
    return out;
  }

  /** `append` without the list of completed nodes (verification folds millions of leaves). */
  push(leaf: Hash): void {
    let h = leaf;
    let level = 0;
    let i = this.size;
    while (i % 2 === 1) {
      h = nodeHash(this.hashes[level]!, h);
      this.hashes[level] = undefined;
      level++;
      i = (i - 1) / 2;
    }
    this.hashes[level] = h;
    this.size++;
  }

  root(): Hash {
    let h: Hash | undefined;
    for (let l = 0; l < this.hashes.length; l++) {
      const x = this.hashes[l];
      if (x) h = h ? nodeHash(x, h) : x;
    }
    return h ?? EMPTY_ROOT;
  }

  clone(): Frontier {
    const f = new Frontier(this.size);
    this.hashes.forEach((h, l) => (f.hashes[l] = h));
    return f;
  }
}
