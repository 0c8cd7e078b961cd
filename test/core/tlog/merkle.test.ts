import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Frontier } from '../../../core/tlog/frontier.js';
import {
  EMPTY_ROOT,
  consistencyProof,
  inclusionProof,
  leafHash,
  nodeKey,
  verifyConsistency,
  verifyInclusion,
  type NodeReader,
} from '../../../core/tlog/merkle.js';

// Vectors from an independent implementation: transparency-dev/merkle (Go), testdata/ and
// testonly/constants.go (Apache License 2.0); the source commit is inside the JSON file.
const vectors = JSON.parse(
  fs.readFileSync(new URL('../../fixtures/tlog/transparency-dev-merkle-vectors.json', import.meta.url), 'utf8'),
) as {
  inclusion: Array<{
    leafIdx: number;
    treeSize: number;
    root: string | null;
    leafHash: string | null;
    proof: string[] | null;
    desc: string;
    wantErr: boolean;
    file: string;
  }>;
  consistency: Array<{
    size1: number;
    size2: number;
    root1: string | null;
    root2: string | null;
    proof: string[] | null;
    desc: string;
    wantErr: boolean;
    file: string;
  }>;
};
const b64 = (s: string | null): Buffer => Buffer.from(s ?? '', 'base64');
// testonly.LeafInputs() and RootHashes() of transparency-dev/merkle.
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) =>
  Buffer.from(h, 'hex'),
);
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

function build(leaves: Buffer[]): { get: NodeReader; roots: Buffer[] } {
  const nodes = new Map<string, Buffer>();
  const f = new Frontier();
  const roots = [f.root()];
  for (const l of leaves) {
    for (const n of f.append(leafHash(l))) nodes.set(nodeKey(n.level, n.index), n.hash);
    roots.push(f.root());
  }
  const get: NodeReader = (level, index) => {
    const h = nodes.get(nodeKey(level, index));
    if (!h) throw new Error(`missing node ${level}/${index}`);
    return h;
  };
  return { get, roots };
}

describe('RFC 9162 Merkle tree', () => {
  it('computes the roots of the reference implementation for every size 0..8', () => {
    expect(EMPTY_ROOT.toString('hex')).toBe(ROOTS[0]);
    expect(build(LEAVES).roots.map((r) => r.toString('hex'))).toEqual(ROOTS);
  });

  it('verifies and refuses inclusion proofs exactly as transparency-dev/merkle says', () => {
    expect(vectors.inclusion.length).toBeGreaterThan(50);
    for (const v of vectors.inclusion) {
      const ok = verifyInclusion(v.leafIdx, v.treeSize, b64(v.leafHash), (v.proof ?? []).map(b64), b64(v.root));
      expect({ file: v.file, ok }).toEqual({ file: v.file, ok: !v.wantErr });
    }
  });

  it('verifies and refuses consistency proofs exactly as transparency-dev/merkle says', () => {
    expect(vectors.consistency.length).toBeGreaterThan(50);
    for (const v of vectors.consistency) {
      const ok = verifyConsistency(v.size1, v.size2, (v.proof ?? []).map(b64), b64(v.root1), b64(v.root2));
      expect({ file: v.file, ok }).toEqual({ file: v.file, ok: !v.wantErr });
    }
  });

  it('generates the same proofs as the reference for its happy-path vectors', () => {
    const { get } = build(LEAVES);
    for (const v of vectors.consistency.filter(
      (x) => !x.wantErr && x.size2 <= 8 && x.size1 > 0 && x.size1 < x.size2 && b64(x.root2).toString('hex') === ROOTS[x.size2],
    )) {
      expect(consistencyProof(v.size1, v.size2, get).map((h) => h.toString('base64'))).toEqual(v.proof);
    }
    for (const v of vectors.inclusion.filter((x) => !x.wantErr && x.treeSize <= 8 && b64(x.root).toString('hex') === ROOTS[x.treeSize])) {
      expect(inclusionProof(v.leafIdx, v.treeSize, get).map((h) => h.toString('base64'))).toEqual(v.proof ?? []);
    }
  });

  it('proves every leaf and every pair of sizes of a 70-leaf tree built by appends', () => {
    const leaves = Array.from({ length: 70 }, (_, i) => Buffer.from(`leaf ${i}`));
    const { get, roots } = build(leaves);
    for (let n = 1; n <= 70; n++) {
      for (let m = 0; m < n; m++) expect(verifyInclusion(m, n, leafHash(leaves[m]), inclusionProof(m, n, get), roots[n])).toBe(true);
      for (let m = 1; m <= n; m++) expect(verifyConsistency(m, n, consistencyProof(m, n, get), roots[m], roots[n])).toBe(true);
    }
    expect(verifyInclusion(3, 70, leafHash(leaves[4]), inclusionProof(3, 70, get), roots[70])).toBe(false);
  });
});
