import type Database from 'better-sqlite3';
import {
  Frontier,
  TreePositionGap,
  entryOf,
  leafHash,
  nodeKey,
  type Hash,
  type RecordedEvent,
  type StoredCheckpoint,
  type TransparencyTree,
  type TreeLeaf,
  type WitnessAck,
} from '../../core/index.js';

export const TREE_SCHEMA = `
CREATE TABLE IF NOT EXISTS tlog_leaves (idx INTEGER PRIMARY KEY, position INTEGER NOT NULL, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tlog_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tlog_checkpoints (size INTEGER PRIMARY KEY, root BLOB NOT NULL, note TEXT NOT NULL, issued_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tlog_witness_acks (size INTEGER NOT NULL, witness TEXT NOT NULL, ok INTEGER NOT NULL, detail TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (size, witness));`;

/**
 * The Merkle tree in the SQLite file, written in the append's own transaction: a commit holds its
 * events and their leaves, or neither. SQLite positions are dense, so leaf i is position i + 1
 * and anything else is a gap (an error, the append fails).
 */
export class SqliteTree implements TransparencyTree {
  /** The right edge as of `frontier.size` leaves; reloaded whenever the file says otherwise. */
  private frontier: Frontier | null = null;
  private readonly stmt: Record<
    'size' | 'lastPos' | 'leaf' | 'node' | 'leaves' | 'leafAt' | 'addCp' | 'cps' | 'addAck' | 'acks',
    Database.Statement
  >;
  private readonly insertLeaf: Database.Statement;
  private readonly insertNode: Database.Statement;

  constructor(private readonly db: Database.Database) {
    db.exec(TREE_SCHEMA);
    this.stmt = {
      size: db.prepare('SELECT coalesce(max(idx) + 1, 0) FROM tlog_leaves').pluck(),
      lastPos: db.prepare('SELECT position FROM tlog_leaves WHERE idx = ?').pluck(),
      leaf: db.prepare('SELECT hash FROM tlog_leaves WHERE idx = ?').pluck(),
      node: db.prepare('SELECT hash FROM tlog_nodes WHERE level = ? AND idx = ?').pluck(),
      leaves: db.prepare('SELECT idx, position, hash FROM tlog_leaves WHERE idx >= ? ORDER BY idx LIMIT ?').raw(),
      // Positions are dense, so leaf position - 1 is the first guess; no index on position (one
      // b-tree less per append). Only a log with an accepted gap falls back to the scan.
      leafAt: db
        .prepare(
          'SELECT idx, position, hash FROM tlog_leaves WHERE idx = ? AND position = ? UNION ALL SELECT idx, position, hash FROM tlog_leaves WHERE position = ? LIMIT 1',
        )
        .raw(),
      addCp: db.prepare('INSERT OR IGNORE INTO tlog_checkpoints (size, root, note, issued_at) VALUES (?, ?, ?, ?)'),
      cps: db.prepare('SELECT size, root, note, issued_at FROM tlog_checkpoints ORDER BY size DESC LIMIT ?').raw(),
      addAck: db.prepare('REPLACE INTO tlog_witness_acks (size, witness, ok, detail, at) VALUES (?, ?, ?, ?, ?)'),
      acks: db.prepare('SELECT size, witness, ok, detail, at FROM tlog_witness_acks WHERE size = ? ORDER BY witness').raw(),
    };
    this.insertLeaf = db.prepare('INSERT INTO tlog_leaves (idx, position, hash) VALUES (?, ?, ?)');
    this.insertNode = db.prepare('INSERT INTO tlog_nodes (level, idx, hash) VALUES (?, ?, ?)');
  }

  /** Forgets the cached edge (a write transaction failed: the file may not hold what the cache does). */
  invalidate(): void {
    this.frontier = null;
  }

  /** The current right edge, from the cache when it is still the file's. Call inside the write transaction. */
  private edge(): Frontier {
    // The last leaf's index is its rowid: max() is one step down the b-tree.
    const size = this.stmt.size.get() as number;
    if (this.frontier && this.frontier.size === size) return this.frontier;
    const edge = new Map<number, Hash>();
    for (const [level, index] of Frontier.edgeKeys(size)) edge.set(level, this.readNode(level, index));
    this.frontier = new Frontier(size, edge);
    return this.frontier;
  }

  private readNode(level: number, index: number): Hash {
    const h = (level === 0 ? this.stmt.leaf.get(index) : this.stmt.node.get(level, index)) as Hash | undefined;
    if (!h) throw new Error(`transparency tree: node ${level}/${index} is missing`);
    return h;
  }

  /**
   * Adds the events' leaves, in position order. Synchronous, inside the caller's transaction;
   * if that transaction rolls back the cache no longer matches the file and is reloaded next time.
   */
  appendEvents(events: readonly Pick<RecordedEvent, 'position' | 'hash'>[], allowGaps = false): void {
    if (!events.length) return;
    const f = this.edge().clone();
    let last = f.size === 0 ? 0 : (this.stmt.lastPos.get(f.size - 1) as number);
    for (const e of events) {
      if (allowGaps ? e.position <= last : e.position !== last + 1) throw new TreePositionGap(last + 1, e.position);
      last = e.position;
      for (const n of f.append(leafHash(entryOf(e.hash)))) {
        if (n.level === 0) this.insertLeaf.run(n.index, e.position, n.hash);
        else this.insertNode.run(n.level, n.index, n.hash);
      }
    }
    this.frontier = f;
  }

  /**
   * Leaves for events the tree does not hold yet (a file written before the tree existed). Stops
   * at a gap without failing: the store still opens, so `audit verify` can report it, and the
   * broker's start check refuses the log.
   */
  backfill(readAfter: (position: number, limit: number) => Pick<RecordedEvent, 'position' | 'hash'>[]): {
    added: number;
    gap: TreePositionGap | null;
  } {
    let added = 0;
    for (;;) {
      const size = this.stmt.size.get() as number;
      const after = size === 0 ? 0 : (this.stmt.lastPos.get(size - 1) as number);
      const page = readAfter(after, 5000);
      if (!page.length) return { added, gap: null };
      try {
        this.db.transaction(() => this.appendEvents(page)).immediate();
      } catch (err) {
        this.invalidate();
        if (err instanceof TreePositionGap) return { added, gap: err };
        throw err;
      }
      added += page.length;
    }
  }

  /** Set by the store: reads the log's (position, hash) pages for a rebuild. */
  readAfter: ((position: number, limit: number) => Pick<RecordedEvent, 'position' | 'hash'>[]) | null = null;

  async rebuild(): Promise<void> {
    this.db
      .transaction(() => {
        this.db.exec('DELETE FROM tlog_leaves; DELETE FROM tlog_nodes;');
        this.invalidate();
        let after = 0;
        for (;;) {
          const page = this.readAfter!(after, 5000);
          if (!page.length) break;
          this.appendEvents(page, true); // the accepted log may have gaps: they stay visible to audit verify
          after = page[page.length - 1].position;
        }
        this.db.prepare('DELETE FROM tlog_checkpoints WHERE size >= ?').run(this.stmt.size.get());
      })
      .immediate();
  }

  async size(): Promise<number> {
    return this.stmt.size.get() as number;
  }

  async nodes(keys: ReadonlyArray<readonly [number, number]>): Promise<Map<string, Hash>> {
    const out = new Map<string, Hash>();
    for (const [level, index] of keys) {
      const h = (level === 0 ? this.stmt.leaf.get(index) : this.stmt.node.get(level, index)) as Hash | undefined;
      if (h) out.set(nodeKey(level, index), h);
    }
    return out;
  }

  async leaves(from: number, limit: number): Promise<TreeLeaf[]> {
    return (this.stmt.leaves.all(from, limit) as [number, number, Hash][]).map(([index, position, hash]) => ({ index, position, hash }));
  }

  async leafAtPosition(position: number): Promise<TreeLeaf | null> {
    const r = this.stmt.leafAt.get(position - 1, position, position) as [number, number, Hash] | undefined;
    return r ? { index: r[0], position: r[1], hash: r[2] } : null;
  }

  async recordCheckpoint(c: StoredCheckpoint): Promise<void> {
    this.stmt.addCp.run(c.size, c.root, c.note, c.issuedAt);
  }

  async checkpoints(limit: number): Promise<StoredCheckpoint[]> {
    return (this.stmt.cps.all(limit) as [number, Hash, string, string][]).map(([size, root, note, issuedAt]) => ({
      size,
      root,
      note,
      issuedAt,
    }));
  }

  async recordWitnessAck(a: WitnessAck): Promise<void> {
    this.stmt.addAck.run(a.size, a.witness, a.ok ? 1 : 0, a.detail, a.at);
  }

  async witnessAcks(size: number): Promise<WitnessAck[]> {
    return (this.stmt.acks.all(size) as [number, string, number, string, string][]).map(([s, witness, ok, detail, at]) => ({
      size: s,
      witness,
      ok: ok === 1,
      detail,
      at,
    }));
  }
}
