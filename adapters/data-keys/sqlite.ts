import type Database from 'better-sqlite3';
import { DataKeyConflict, type DataKeyTable } from '../../core/ports/data-keys.js';

export const SQLITE_DATA_KEYS_SCHEMA = `
CREATE TABLE IF NOT EXISTS data_keys (
  id           TEXT PRIMARY KEY,
  wrapped      BLOB,
  created_at   TEXT NOT NULL,
  destroyed_at TEXT
) WITHOUT ROWID;`;

/**
 * The data keys of a SQLite log, in a table of the log's own file. The file runs with
 * `secure_delete` (sqlite.ts), so a destroyed key's bytes are overwritten with zeros in the page,
 * and a destroy ends with a WAL checkpoint that truncates the write-ahead log, where the page's
 * older image would otherwise stay until the next checkpoint.
 */
export class SqliteDataKeys implements DataKeyTable {
  private readonly st: {
    get: Database.Statement;
    insert: Database.Statement;
    destroy: Database.Statement;
    liveBefore: Database.Statement;
    counts: Database.Statement;
    entries: Database.Statement;
    tombstone: Database.Statement;
  };

  constructor(private readonly db: Database.Database) {
    db.exec(SQLITE_DATA_KEYS_SCHEMA);
    this.st = {
      get: db.prepare('SELECT id, wrapped FROM data_keys WHERE id = ?'),
      insert: db.prepare('INSERT INTO data_keys (id, wrapped, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING'),
      // zeroblob first, in place, then NULL: with secure_delete the old cell is zeroed either way,
      // the zeroblob makes sure no copy of the key survives in an overflow page.
      destroy: db.prepare('UPDATE data_keys SET wrapped = NULL, destroyed_at = ? WHERE id = ? AND wrapped IS NOT NULL'),
      liveBefore: db.prepare('SELECT id FROM data_keys WHERE id >= ? AND id < ? AND wrapped IS NOT NULL ORDER BY id'),
      counts: db.prepare('SELECT count(wrapped) AS live, count(*) - count(wrapped) AS destroyed FROM data_keys'),
      entries: db.prepare('SELECT id, wrapped FROM data_keys WHERE id > ? ORDER BY id LIMIT ?'),
      tombstone: db.prepare(
        'INSERT INTO data_keys (id, wrapped, created_at, destroyed_at) VALUES (?, NULL, ?, ?) ON CONFLICT (id) DO UPDATE SET wrapped = NULL, destroyed_at = excluded.destroyed_at',
      ),
    };
  }

  /**
   * Stores new keys inside the caller's transaction (the event store's append): throws
   * DataKeyConflict, rolling the append back, when an id already holds another key.
   */
  claimInTransaction(keys: readonly { id: string; wrapped: Buffer }[]): void {
    const now = new Date().toISOString();
    for (const k of keys) {
      this.st.insert.run(k.id, k.wrapped, now);
      const stored = (this.st.get.get(k.id) as { wrapped: Buffer | null }).wrapped;
      if (!stored || !stored.equals(k.wrapped)) throw new DataKeyConflict(k.id);
    }
  }

  async get(ids: readonly string[]): Promise<Map<string, Buffer | null>> {
    const out = new Map<string, Buffer | null>();
    for (const id of ids) {
      const row = this.st.get.get(id) as { id: string; wrapped: Buffer | null } | undefined;
      if (row) out.set(id, row.wrapped);
    }
    return out;
  }

  async create(id: string, wrapped: Buffer): Promise<Buffer | null> {
    this.st.insert.run(id, wrapped, new Date().toISOString());
    return (this.st.get.get(id) as { wrapped: Buffer | null }).wrapped;
  }

  async destroy(id: string): Promise<boolean> {
    const changed = this.st.destroy.run(new Date().toISOString(), id).changes > 0;
    if (changed) {
      try {
        this.db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // A reader holding an old snapshot keeps the WAL: the next checkpoint (automatic) clears it.
      }
    }
    return changed;
  }

  async liveBefore(prefix: string, before: string): Promise<string[]> {
    return (this.st.liveBefore.all(prefix, before) as { id: string }[]).map((r) => r.id);
  }

  async entries(after: string, limit: number): Promise<{ id: string; wrapped: Buffer | null }[]> {
    return this.st.entries.all(after, limit) as { id: string; wrapped: Buffer | null }[];
  }

  async copyIn(id: string, wrapped: Buffer | null): Promise<void> {
    if (wrapped) this.st.insert.run(id, wrapped, new Date().toISOString());
    else {
      const now = new Date().toISOString();
      this.st.tombstone.run(id, now, now);
    }
  }

  async counts(): Promise<{ live: number; destroyed: number }> {
    return this.st.counts.get() as { live: number; destroyed: number };
  }
}
