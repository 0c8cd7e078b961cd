import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ReadDatabase, ReadStatement } from '../../core/index.js';

export interface SqliteReadDatabaseOptions {
  /** A file, or ':memory:' (tests and the in-memory event store). */
  path: string;
  /** Page cache, MiB: the bound on what the read models keep in memory beyond their own caches. */
  cacheMiB?: number;
  readonly?: boolean;
}

/**
 * Read models' rows in a SQLite file of this node. `synchronous=NORMAL` in WAL mode: a commit
 * survives a process crash (kill -9) and, after a power loss, the file is still consistent, only
 * older; rows and checkpoint are committed together, so the projections resume from the older
 * checkpoint and re-apply the tail from the log, which holds everything.
 */
export function openSqliteReadDatabase(options: SqliteReadDatabaseOptions): ReadDatabase {
  const location = options.path;
  if (location !== ':memory:' && !options.readonly) fs.mkdirSync(path.dirname(location), { recursive: true, mode: 0o700 });
  const db = new Database(location, { readonly: !!options.readonly, fileMustExist: !!options.readonly });
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
  db.pragma(`cache_size = -${(options.cacheMiB ?? 32) * 1024}`);
  db.pragma('busy_timeout = 5000');
  db.pragma('temp_store = MEMORY');
  // Freed content is zeroed in the file: an erased user's email must not stay in a free page.
  if (!options.readonly) db.pragma('secure_delete = ON');
  if (location !== ':memory:' && !options.readonly) {
    for (const f of [location, `${location}-wal`, `${location}-shm`]) {
      try {
        fs.chmodSync(f, 0o600);
      } catch {
        /* the WAL files appear on first write */
      }
    }
  }
  // One transaction wrapper for every call: building one per call (db.transaction(fn)) cost ~20 µs.
  const inTransaction = db.transaction((fn: () => unknown) => fn());
  return {
    location,
    exec: (sql) => void db.exec(sql),
    scrub: () => {
      if (location === ':memory:' || options.readonly) return;
      try {
        db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // a reader holds an old snapshot: the next automatic checkpoint clears it
      }
    },
    // better-sqlite3's statements already have the port's shape: handed out as they are, so a
    // hot-path read costs no wrapper call.
    prepare: <R>(sql: string): ReadStatement<R> => db.prepare(sql) as unknown as ReadStatement<R>,
    // IMMEDIATE: the write lock is taken at BEGIN, so two writers of one file (the broker and a CLI
    // command catching up) queue on busy_timeout instead of failing with a stale snapshot.
    transaction: <T>(fn: () => T): T => inTransaction.immediate(fn) as T,
    close: () => db.close(),
  };
}
