import { EMPTY_ROOT, consistencyProof, inclusionProof, keysRead, nodeKey, rangeHash, type Hash, type NodeReader } from './merkle.js';
import { TreeNodeMissing, type TransparencyTree } from './tree-port.js';

/**
 * Runs a pure tree computation over stored nodes: first with a recording reader to learn the
 * O(log n) keys it needs, then once more over those nodes fetched in one round trip.
 */
async function withNodes<T>(tree: TransparencyTree, fn: (get: NodeReader) => T): Promise<T> {
  const keys = keysRead(fn);
  const nodes = await tree.nodes(keys);
  return fn((level, index) => {
    const h = nodes.get(nodeKey(level, index));
    if (!h) throw new TreeNodeMissing(level, index);
    return h;
  });
}

export function treeRoot(tree: TransparencyTree, size: number): Promise<Hash> {
  if (size === 0) return Promise.resolve(EMPTY_ROOT);
  return withNodes(tree, (get) => rangeHash(0, size, get));
}

export function proveInclusion(tree: TransparencyTree, leaf: number, size: number): Promise<Hash[]> {
  return withNodes(tree, (get) => inclusionProof(leaf, size, get));
}

export function proveConsistency(tree: TransparencyTree, oldSize: number, size: number): Promise<Hash[]> {
  return withNodes(tree, (get) => consistencyProof(oldSize, size, get));
}
