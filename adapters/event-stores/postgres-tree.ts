import type pg from 'pg';
import {
  Frontier,
  TreePositionGap,
  entryOf,
  leafHash,
  nodeKey,
  type Hash,
  type StoredCheckpoint,
  type TransparencyTree,
  type TreeLeaf,
  type WitnessAck,
} from '../../core/index.js';
import { LOCK_CLASS_POSITIONS, LOCK_CLASS_TREE } from './postgres-migrations.js';

/**
 * The Merkle tree in PostgreSQL. Appends commit in parallel (and across nodes), so the tree
 * cannot be extended inside each append's transaction without serialising every commit in
 * position order. Instead it follows the log in its own short transaction, right after each
 * commit (coalesced: one run in flight per store, another if appends landed meanwhile), under a
 * transaction-level advisory lock so two nodes never extend it at once. It reads events with the
 * readers' visibility rule (tx older than the snapshot's xmin), so it never passes a position an
 * earlier transaction may still fill: leaves go in strictly in position order. The lag is one
 * commit; a crash in between is caught up when the store next opens or appends.
 */
export class PostgresTree implements TransparencyTree {
  private frontier: Frontier | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  /** The last failure of a background run (the start check and /readyz can report it). */
  lastError: Error | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {}

  /** Starts a catch-up, or asks the one running to go round again. */
  poke(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.catchUpOnce();
          this.lastError = null;
        } catch (err) {
          this.frontier = null;
          this.lastError = err as Error;
          break;
        }
      } while (this.again);
      this.running = null;
    })();
  }

  /** Waits for the run in flight (close). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Waits until every event committed (and visible) before the call is in the tree. */
  async catchUp(): Promise<void> {
    while (this.running) await this.running;
    await this.catchUpOnce();
  }

  /**
   * One catch-up. Readers of the log treat every running transaction with an id as a possible
   * earlier append (the xmin rule), so this one takes its id as late and holds it as briefly as it
   * can: the builders' mutual exclusion is a session-level advisory lock, reads and hashing happen
   * outside any write, and each page of leaves is one INSERT committed without waiting for the
   * flush (the tree is derived from durable events: a leaf lost in a crash is rebuilt at open),
   * under the positions lock. On any error the connection is destroyed, releasing its locks.
   */
  private async catchUpOnce(): Promise<void> {
    const client = await this.pool.connect();
    let destroy = false;
    try {
      await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_CLASS_TREE, this.s]);
      try {
        const head = await client.query<{ idx: string; position: string }>(
          `SELECT idx, position FROM "${this.s}".tlog_leaves ORDER BY idx DESC LIMIT 1`,
        );
        const size = head.rows.length ? Number(head.rows[0].idx) + 1 : 0;
        let last = head.rows.length ? Number(head.rows[0].position) : 0;
        const f = this.frontier && this.frontier.size === size ? this.frontier.clone() : await this.loadEdge(client, size);
        this.frontier = null; // until this run's writes are committed
        for (;;) {
          const page = await client.query<[string, string, boolean]>({
            text: `SELECT position, hash, tx < (SELECT pg_snapshot_xmin(pg_current_snapshot())) FROM "${this.s}".events WHERE position > $1 ORDER BY position LIMIT 5000`,
            values: [last],
            rowMode: 'array',
          });
          const leaves: { idx: number[]; pos: number[]; hash: Buffer[] } = { idx: [], pos: [], hash: [] };
          const nodes: { level: number[]; idx: number[]; hash: Buffer[] } = { level: [], idx: [], hash: [] };
          for (const [p, h, visible] of page.rows) {
            if (!visible) break; // an earlier transaction may still commit a lower position
            const position = Number(p);
            if (position <= last) throw new TreePositionGap(last + 1, position);
            last = position;
            for (const n of f.append(leafHash(entryOf(h)))) {
              if (n.level === 0) {
                leaves.idx.push(n.index);
                leaves.pos.push(position);
                leaves.hash.push(n.hash);
              } else {
                nodes.level.push(n.level);
                nodes.idx.push(n.index);
                nodes.hash.push(n.hash);
              }
            }
          }
          if (leaves.idx.length) {
            // Readers hold back every row whose transaction is newer than the oldest one running.
            // Under the positions lock no append can take its transaction id, so none is newer
            // than this short write: it never hides an append from a reader (appends wait ~1 ms).
            await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_CLASS_POSITIONS, this.s]);
            await client.query('BEGIN');
            await client.query('SET LOCAL synchronous_commit = off');
            await client.query(
              `WITH l AS (INSERT INTO "${this.s}".tlog_leaves (idx, position, hash) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]))
               INSERT INTO "${this.s}".tlog_nodes (level, idx, hash) SELECT * FROM unnest($4::smallint[], $5::bigint[], $6::bytea[])`,
              [leaves.idx, leaves.pos, leaves.hash, nodes.level, nodes.idx, nodes.hash],
            );
            await client.query('COMMIT');
            await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_CLASS_POSITIONS, this.s]);
          }
          if (leaves.idx.length < 5000) break;
        }
        this.frontier = f;
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_CLASS_TREE, this.s]);
      }
    } catch (err) {
      // A failed statement inside BEGIN, or a lost connection: the session (and its lock) goes.
      destroy = true;
      throw err;
    } finally {
      client.release(destroy || undefined);
    }
  }

  private async loadEdge(client: pg.ClientBase, size: number): Promise<Frontier> {
    const keys = Frontier.edgeKeys(size);
    const nodes = await this.fetch(client, keys);
    const edge = new Map<number, Hash>();
    for (const [level, index] of keys) {
      const h = nodes.get(nodeKey(level, index));
      if (!h) throw new Error(`transparency tree: node ${level}/${index} is missing`);
      edge.set(level, h);
    }
    return new Frontier(size, edge);
  }

  private async fetch(client: pg.ClientBase | pg.Pool, keys: ReadonlyArray<readonly [number, number]>): Promise<Map<string, Hash>> {
    const r = await client.query<{ level: number; idx: string; hash: Buffer }>(
      `SELECT 0 AS level, idx, hash FROM "${this.s}".tlog_leaves WHERE idx = ANY($1::bigint[])
       UNION ALL SELECT n.level, n.idx, n.hash FROM "${this.s}".tlog_nodes n JOIN unnest($2::smallint[], $3::bigint[]) AS k(level, idx) ON n.level = k.level AND n.idx = k.idx`,
      [
        keys.filter((k) => k[0] === 0).map((k) => k[1]),
        keys.filter((k) => k[0] > 0).map((k) => k[0]),
        keys.filter((k) => k[0] > 0).map((k) => k[1]),
      ],
    );
    return new Map(r.rows.map((x) => [nodeKey(x.level, Number(x.idx)), x.hash]));
  }

  async rebuild(): Promise<void> {
    await this.idle();
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS_TREE, this.s]);
      await client.query(`DELETE FROM "${this.s}".tlog_leaves; DELETE FROM "${this.s}".tlog_nodes;`);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
    this.frontier = null;
    const size = await this.size();
    await this.pool.query(`DELETE FROM "${this.s}".tlog_checkpoints WHERE size >= $1`, [size]);
  }

  async size(): Promise<number> {
    await this.catchUp();
    const r = await this.pool.query<{ n: string }>(`SELECT coalesce(max(idx) + 1, 0) AS n FROM "${this.s}".tlog_leaves`);
    return Number(r.rows[0].n);
  }

  nodes(keys: ReadonlyArray<readonly [number, number]>): Promise<Map<string, Hash>> {
    return this.fetch(this.pool, keys);
  }

  async leaves(from: number, limit: number): Promise<TreeLeaf[]> {
    const r = await this.pool.query<[string, string, Buffer]>({
      text: `SELECT idx, position, hash FROM "${this.s}".tlog_leaves WHERE idx >= $1 ORDER BY idx LIMIT $2`,
      values: [from, limit],
      rowMode: 'array',
    });
    return r.rows.map(([i, p, h]) => ({ index: Number(i), position: Number(p), hash: h }));
  }

  async leafAtPosition(position: number): Promise<TreeLeaf | null> {
    const r = await this.pool.query<{ idx: string; hash: Buffer }>(`SELECT idx, hash FROM "${this.s}".tlog_leaves WHERE position = $1`, [
      position,
    ]);
    return r.rows.length ? { index: Number(r.rows[0].idx), position, hash: r.rows[0].hash } : null;
  }

  async recordCheckpoint(c: StoredCheckpoint): Promise<void> {
    await this.pool.query(
      `INSERT INTO "${this.s}".tlog_checkpoints (size, root, note, issued_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [c.size, c.root, c.note, c.issuedAt],
    );
  }

  async checkpoints(limit: number): Promise<StoredCheckpoint[]> {
    const r = await this.pool.query<{ size: string; root: Buffer; note: string; issued_at: Date }>(
      `SELECT size, root, note, issued_at FROM "${this.s}".tlog_checkpoints ORDER BY size DESC LIMIT $1`,
      [limit],
    );
    return r.rows.map((x) => ({ size: Number(x.size), root: x.root, note: x.note, issuedAt: x.issued_at.toISOString() }));
  }

  async recordWitnessAck(a: WitnessAck): Promise<void> {
    await this.pool.query(
      `INSERT INTO "${this.s}".tlog_witness_acks (size, witness, ok, detail, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (size, witness) DO UPDATE SET ok = EXCLUDED.ok, detail = EXCLUDED.detail, at = EXCLUDED.at`,
      [a.size, a.witness, a.ok, a.detail, a.at],
    );
  }

  async witnessAcks(size: number): Promise<WitnessAck[]> {
    const r = await this.pool.query<{ witness: string; ok: boolean; detail: string; at: Date }>(
      `SELECT witness, ok, detail, at FROM "${this.s}".tlog_witness_acks WHERE size = $1 ORDER BY witness`,
      [size],
    );
    return r.rows.map((x) => ({ size, witness: x.witness, ok: x.ok, detail: x.detail, at: x.at.toISOString() }));
  }
}
