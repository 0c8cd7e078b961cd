import { createHash, hash } from 'node:crypto';

/**
 * RFC 9162 section 2.1 Merkle tree hashing over the event log. The entry of leaf i is the hash of
 * the event at the i-th position (its `hash` field, hex, taken as the 32 bytes it spells).
 *
 * The tree is stored as complete subtrees: node (level, index) is the root of leaves
 * [index * 2^level, (index + 1) * 2^level). Appending a leaf writes it and every subtree it
 * completes (O(log n), ~2 writes on average); the hash of any range and every proof is built from
 * O(log n) of those nodes.
 */

export type Hash = Buffer;

// One-shot `crypto.hash` over a concatenated buffer: half the cost of a Hash object, and
// `audit verify` computes two of these per event.
const sha256 = hash as unknown as (alg: 'sha256', data: Buffer, enc: 'buffer') => Buffer;

export function leafHash(entry: Buffer): Hash {
  const b = Buffer.allocUnsafe(1 + entry.length);
  b[0] = 0;
  entry.copy(b, 1);
  return sha256('sha256', b, 'buffer');
}

export function nodeHash(left: Hash, right: Hash): Hash {
  const b = Buffer.allocUnsafe(1 + left.length + right.length);
  b[0] = 1;
  left.copy(b, 1);
  right.copy(b, 1 + left.length);
  return sha256('sha256', b, 'buffer');
}

/** MTH({}) = SHA-256() (RFC 9162 2.1.1). */
export const EMPTY_ROOT: Hash = createHash('sha256').digest();

/** The leaf entry for an event hash: the 32 bytes of its hex digest. */
export function entryOf(eventHash: string): Buffer {
  return Buffer.from(eventHash, 'hex');
}

export const nodeKey = (level: number, index: number): string => `${level}:${index}`;

/** Reads stored complete-subtree hashes; throws when one is missing (a gap is an error). */
export type NodeReader = (level: number, index: number) => Hash;

/** The largest power of two strictly smaller than n (n >= 2), the `k` of RFC 9162 2.1.1. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * MTH of leaves [start, end): start is a multiple of the largest power of two <= end - start, as
 * every range the proofs ask for is. Decomposed into complete subtrees left to right, then folded
 * from the right, which is how RFC 9162's recursion groups an incomplete right edge.
 */
export function rangeHash(start: number, end: number, get: NodeReader): Hash {
  if (end <= start) return EMPTY_ROOT;
  const parts: Hash[] = [];
  let at = start;
  for (let level = 52; level >= 0; level--) {
    const size = 2 ** level;
    if (end - at >= size) {
      parts.push(get(level, at / size));
      at += size;
    }
  }
  let h = parts[parts.length - 1];
  for (let i = parts.length - 2; i >= 0; i--) h = nodeHash(parts[i], h);
  return h;
}

/** The (level, index) keys `fn` reads, so a store can fetch them in one query before running it. */
export function keysRead(fn: (get: NodeReader) => unknown): Array<[number, number]> {
  const keys: Array<[number, number]> = [];
  const seen = new Set<string>();
  fn((level, index) => {
    const k = nodeKey(level, index);
    if (!seen.has(k)) {
      seen.add(k);
      keys.push([level, index]);
    }
    return EMPTY_ROOT;
  });
  return keys;
}

/** RFC 9162 2.1.3.1 PATH(m, D[start:end]), built from stored subtrees. */
export function inclusionProof(m: number, size: number, get: NodeReader): Hash[] {
  if (m < 0 || m >= size) throw new RangeError(`leaf ${m} is not in a tree of size ${size}`);
  const path = (m: number, start: number, end: number): Hash[] => {
    const n = end - start;
    if (n === 1) return [];
    const k = split(n);
    if (m < k) return [...path(m, start, start + k), rangeHash(start + k, end, get)];
    return [...path(m - k, start + k, end), rangeHash(start, start + k, get)];
  };
  return path(m, 0, size);
}

/** RFC 9162 2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true). */
export function consistencyProof(m: number, size: number, get: NodeReader): Hash[] {
  if (m < 1 || m > size) throw new RangeError(`cannot prove size ${m} against size ${size}`);
  const sub = (m: number, start: number, end: number, b: boolean): Hash[] => {
    const n = end - start;
    if (m === n) return b ? [] : [rangeHash(start, end, get)];
    const k = split(n);
    if (m <= k) return [...sub(m, start, start + k, b), rangeHash(start + k, end, get)];
    return [...sub(m - k, start + k, end, false), rangeHash(start, start + k, get)];
  };
  return sub(m, 0, size, true);
}

/** RFC 9162 2.1.3.2: does `proof` put `leaf` at index m of a tree of `size` with `root`? */
export function verifyInclusion(m: number, size: number, leaf: Hash, proof: Hash[], root: Hash): boolean {
  // Hashes are 32 bytes, a proof is never longer than the tree is tall (refuses junk early).
  if (m < 0 || m >= size || leaf.length !== 32 || root.length !== 32 || proof.length > 64 || proof.some((p) => p.length !== 32))
    return false;
  let fn = m;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        do {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        } while (fn % 2 === 0 && fn !== 0);
      }
    } else r = nodeHash(r, p);
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 2.1.4.2: does `proof` show a tree of size2/root2 extends one of size1/root1? */
export function verifyConsistency(size1: number, size2: number, proof: Hash[], root1: Hash, root2: Hash): boolean {
  // A proof from the empty tree proves nothing (transparency-dev/merkle refuses it too).
  if (size1 < 1 || size1 > size2) return false;
  if (size1 === size2) return proof.length === 0 && root1.equals(root2);
  if (root1.length !== 32 || root2.length !== 32 || proof.length > 128 || proof.some((p) => p.length !== 32)) return false;
  if (proof.length === 0) return false;
  let path = proof;
  // 2.1.4.2 step 1: if first is an exact power of 2, prepend first_hash to the proof.
  if (Number.isInteger(Math.log2(size1))) path = [root1, ...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        do {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        } while (fn % 2 === 0 && fn !== 0);
      }
    } else sr = nodeHash(sr, c);
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return fr.equals(root1) && sr.equals(root2) && sn === 0;
}
