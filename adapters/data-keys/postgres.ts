import type pg from 'pg';
import type { DataKeyTable } from '../../core/ports/data-keys.js';

/**
 * The data keys of a PostgreSQL log, in `<schema>.data_keys` (migration 5). PostgreSQL never
 * overwrites a row in place: a destroyed key's old row version stays in the table's pages until
 * VACUUM, and VACUUM leaves it in free space until the page is reused. `compact()` (VACUUM FULL of
 * this small table, which writes a new file and drops the old one) takes those bytes out of the
 * database; the erasure runs it, and docs/security/erasure.md says what WAL archives and backups
 * keep and for how long.
 */
export class PostgresDataKeys implements DataKeyTable {
  private readonly t: string;
  constructor(
    pool: pg.Pool,
    schema: string,
    /** The store's retry on lost connections (every statement here is idempotent). */
    private readonly retry: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn(),
  ) {
    this.t = `"${schema}".data_keys`;
    this.pool = {
      query: ((...args: Parameters<pg.Pool['query']>) =>
        this.retry(() => (pool.query as (...a: unknown[]) => Promise<unknown>)(...args))) as pg.Pool['query'],
    };
  }
  private readonly pool: Pick<pg.Pool, 'query'>;

  async get(ids: readonly string[]): Promise<Map<string, Buffer | null>> {
    const out = new Map<string, Buffer | null>();
    if (!ids.length) return out;
    const r = await this.pool.query<{ id: string; wrapped: Buffer | null }>(`SELECT id, wrapped FROM ${this.t} WHERE id = ANY($1)`, [ids]);
    for (const row of r.rows) out.set(row.id, row.wrapped);
    return out;
  }

  async create(id: string, wrapped: Buffer): Promise<Buffer | null> {
    await this.pool.query(`INSERT INTO ${this.t} (id, wrapped) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, [id, wrapped]);
    const r = await this.pool.query<{ wrapped: Buffer | null }>(`SELECT wrapped FROM ${this.t} WHERE id = $1`, [id]);
    return r.rows[0].wrapped;
  }

  async destroy(id: string): Promise<boolean> {
    const r = await this.pool.query(`UPDATE ${this.t} SET wrapped = NULL, destroyed_at = now() WHERE id = $1 AND wrapped IS NOT NULL`, [
      id,
    ]);
    return (r.rowCount ?? 0) > 0;
  }

  async liveBefore(prefix: string, before: string): Promise<string[]> {
    const r = await this.pool.query<{ id: string }>(
      `SELECT id FROM ${this.t} WHERE id >= $1 AND id < $2 AND wrapped IS NOT NULL ORDER BY id`,
      [prefix, before],
    );
    return r.rows.map((x) => x.id);
  }

  async compact(): Promise<void> {
    await this.pool.query(`VACUUM FULL ${this.t}`);
  }

  async entries(after: string, limit: number): Promise<{ id: string; wrapped: Buffer | null }[]> {
    return (
      await this.pool.query<{ id: string; wrapped: Buffer | null }>(
        `SELECT id, wrapped FROM ${this.t} WHERE id > $1 ORDER BY id LIMIT $2`,
        [after, limit],
      )
    ).rows;
  }

  async copyIn(id: string, wrapped: Buffer | null): Promise<void> {
    if (wrapped) await this.pool.query(`INSERT INTO ${this.t} (id, wrapped) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, [id, wrapped]);
    else
      await this.pool.query(
        `INSERT INTO ${this.t} (id, wrapped, destroyed_at) VALUES ($1, NULL, now()) ON CONFLICT (id) DO UPDATE SET wrapped = NULL, destroyed_at = now()`,
        [id],
      );
  }

  async counts(): Promise<{ live: number; destroyed: number }> {
    const r = await this.pool.query<{ live: string; destroyed: string }>(
      `SELECT count(wrapped) AS live, count(*) - count(wrapped) AS destroyed FROM ${this.t}`,
    );
    return { live: Number(r.rows[0].live), destroyed: Number(r.rows[0].destroyed) };
  }
}
