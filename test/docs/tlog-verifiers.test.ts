import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../adapters/event-stores/sqlite.js';
import { NoteSigner, formatCheckpoint, proveConsistency, proveInclusion, treeRoot } from '../../core/index.js';
import { havePython, readBlocks, writeScratch } from './guide-blocks.js';

/**
 * The stand-alone transparency verifiers of docs/downstream-sites.md, run as child processes
 * (node and python3) exactly as a site or an auditor would: against proofs of a real SQLite log,
 * against tampered proofs and foreign keys, and against the inclusion and consistency vectors of an
 * independent implementation (transparency-dev/merkle, Go), re-wrapped in checkpoints signed here.
 */
const GUIDE = path.resolve('docs/downstream-sites.md');
const vectors = JSON.parse(fs.readFileSync(path.resolve('test/fixtures/tlog/transparency-dev-merkle-vectors.json'), 'utf8')) as {
  inclusion: Array<{
    leafIdx: number;
    treeSize: number;
    root: string | null;
    leafHash: string | null;
    proof: string[] | null;
    wantErr: boolean;
    file: string;
  }>;
  consistency: Array<{
    size1: number;
    size2: number;
    root1: string | null;
    root2: string | null;
    proof: string[] | null;
    wantErr: boolean;
    file: string;
  }>;
};
const python = havePython();
// A key whose base64 part holds '+' (the verifier key's separator): both verifiers must split at the first two only.
const signer = [...Array(256).keys()]
  .map((b) => new NoteSigner('broker.example/broker-log', Buffer.alloc(32, b)))
  .find((k) => k.verifierKey.split('+').length > 3)!;
const stranger = new NoteSigner('broker.example/broker-log', Buffer.alloc(32, 4));
const note = (size: number, root: Buffer, s = signer) => s.sign(formatCheckpoint({ origin: s.name, size, root }));

type Proof = Record<string, unknown>;
const flipFirstByte = (b64: string): string => {
  const buf = Buffer.from(b64, 'base64');
  buf[0] ^= 1;
  return buf.toString('base64');
};

describe('transparency verifiers of the downstream guide (node and python3 child processes)', () => {
  let scratch: { dir: string; remove(): void };
  const cases: { name: string; proof: Proof; ok: boolean }[] = [];

  beforeAll(async () => {
    const blocks = readBlocks(GUIDE).filter((b) => b.runnable === 'tlog-verify.js' || b.runnable === 'tlog_verify.py');
    expect(blocks.map((b) => b.runnable)).toEqual(['tlog-verify.js', 'tlog_verify.py']);
    scratch = writeScratch(blocks);

    // A real log: 300 events, checkpoints at 100 and 300.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlog-verifiers-'));
    const store = await SqliteEventStore.open({ path: path.join(dir, 'e.db'), synchronous: 'NORMAL' });
    for (let i = 0; i < 300; i++) await store.append(`user-${i % 13}`, [{ type: 'AccountEnabled', data: { userId: `u${i}` } }]);
    const tree = store.tree!;
    const [old, cur] = [100, 300];
    const oldNote = note(old, await treeRoot(tree, old));
    const curNote = note(cur, await treeRoot(tree, cur));
    const events = await store.readAll({ limit: 300 });
    for (const i of [0, 1, 99, 150, 299]) {
      const proof = (await proveInclusion(tree, i, cur)).map((h) => h.toString('base64'));
      const base = { kind: 'inclusion', checkpoint: curNote, position: events[i].position, leafIndex: i, eventHash: events[i].hash, proof };
      cases.push({ name: `inclusion of leaf ${i}`, proof: base, ok: true });
      if (i === 150) {
        cases.push({ name: 'inclusion with another event hash', proof: { ...base, eventHash: events[151].hash }, ok: false });
        cases.push({
          name: 'inclusion with a flipped proof byte',
          proof: { ...base, proof: [flipFirstByte(proof[0]), ...proof.slice(1)] },
          ok: false,
        });
        cases.push({
          name: 'inclusion against a checkpoint signed by another key',
          proof: { ...base, checkpoint: note(cur, await treeRoot(tree, cur), stranger) },
          ok: false,
        });
        cases.push({
          name: 'inclusion against an edited checkpoint',
          proof: { ...base, checkpoint: curNote.replace('\n300\n', '\n299\n') },
          ok: false,
        });
      }
    }
    const cproof = (await proveConsistency(tree, old, cur)).map((h) => h.toString('base64'));
    cases.push({
      name: 'consistency 100 -> 300',
      proof: { kind: 'consistency', oldCheckpoint: oldNote, checkpoint: curNote, proof: cproof },
      ok: true,
    });
    cases.push({
      name: 'consistency from a forged old root',
      proof: { kind: 'consistency', oldCheckpoint: note(old, await treeRoot(tree, old + 1)), checkpoint: curNote, proof: cproof },
      ok: false,
    });
    cases.push({
      name: 'consistency with a proof cut short',
      proof: { kind: 'consistency', oldCheckpoint: oldNote, checkpoint: curNote, proof: cproof.slice(1) },
      ok: false,
    });
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });

    // transparency-dev/merkle's vectors, each root wrapped in a checkpoint signed with the test key.
    // An empty root cannot be a checkpoint line (a blank line ends the note text): one byte stands for it, as wrong.
    const b = (s: string | null) => (s ? Buffer.from(s, 'base64') : Buffer.of(0));
    for (const v of vectors.inclusion) {
      cases.push({
        name: v.file,
        proof: {
          kind: 'inclusion',
          checkpoint: note(v.treeSize, b(v.root)),
          leafIndex: v.leafIdx,
          leafHash: v.leafHash ?? '',
          proof: v.proof ?? [],
        },
        ok: !v.wantErr,
      });
    }
    for (const v of vectors.consistency) {
      // One vector accepts equal sizes with equal 9-byte "roots"; wrapped in a checkpoint, whose root
      // line must be a 32-byte hash, it is malformed, so both verifiers refuse it.
      const hashes = b(v.root1).length === 32 && b(v.root2).length === 32;
      cases.push({
        name: v.file,
        proof: {
          kind: 'consistency',
          oldCheckpoint: note(v.size1, b(v.root1)),
          checkpoint: note(v.size2, b(v.root2)),
          proof: v.proof ?? [],
        },
        ok: !v.wantErr && hashes,
      });
    }
    fs.writeFileSync(path.join(scratch.dir, 'proofs.json'), JSON.stringify(cases.map((c) => c.proof)));
  }, 60_000);
  afterAll(() => scratch?.remove());

  const run = (cmd: string, file: string) =>
    spawnSync(cmd, [file, signer.verifierKey, 'proofs.json'], { cwd: scratch.dir, encoding: 'utf8', timeout: 120_000 });

  function expectVerdicts(r: ReturnType<typeof run>): void {
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(cases.length);
    const got = cases.map((c, i) => ({ name: c.name, ok: lines[i].startsWith('ok: ') }));
    expect(got).toEqual(cases.map((c) => ({ name: c.name, ok: c.ok })));
    expect(r.status).toBe(1); // some cases fail on purpose
    expect(cases.filter((c) => c.ok).length).toBeGreaterThan(15);
    expect(cases.filter((c) => !c.ok).length).toBeGreaterThan(150);
  }

  it('node tlog-verify.js accepts every genuine proof and refuses every bad one', () => {
    expectVerdicts(run(process.execPath, 'tlog-verify.js'));
  });

  it.skipIf(!python)('python3 tlog_verify.py gives the same verdicts', () => {
    expectVerdicts(run('python3', 'tlog_verify.py'));
  });

  it('exits 0 on a file holding one genuine proof', () => {
    fs.writeFileSync(path.join(scratch.dir, 'one.json'), JSON.stringify(cases[0].proof));
    const r = spawnSync(process.execPath, ['tlog-verify.js', signer.verifierKey, 'one.json'], { cwd: scratch.dir, encoding: 'utf8' });
    expect(r.stdout).toMatch(/^ok: leaf 0 \(position 1\) is in the log of size 300\n$/);
    expect(r.status).toBe(0);
  });
});
