import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** A second broker on the same SQLite file: refused (the CLI maps it to exit 1 with this message). */
export class StoreInUse extends Error {
  override readonly name = 'StoreInUse';
}

export interface StoreLock {
  readonly file: string;
  release(): void;
}

/**
 * One broker per SQLite file. Two brokers on one file each keep their own in-memory read models
 * and caches (sessions, bans), so a ban made through one is seen late by the other: a banned
 * session keeps working there for a while. The lock is an exclusive SQLite lock on a small side
 * file (`<db>.lock`) held for the life of the process: `locking_mode=EXCLUSIVE` keeps the OS-level
 * (fcntl) lock after the first write transaction, and the OS drops it when the process dies,
 * even on SIGKILL, so a crash never leaves a stale lock to clean up by hand.
 * CLI commands do not take it: they read and append through SQLite's own locking while a broker
 * runs, and the broker picks their appends up from the log.
 */
export function lockSqliteStore(dbPath: string): StoreLock {
  const file = `${path.resolve(dbPath)}.lock`;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  // timeout 0: a held lock is an answer, not something to wait for.
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = MEMORY'); // no journal file beside the lock
    db.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') {
      throw new StoreInUse(
        `another broker is already running on ${path.resolve(dbPath)} (it holds ${file}); stop it first. ` +
          'SQLite serves one broker node; several nodes need a shared store (postgres or eventstoredb).',
      );
    }
    throw err;
  }
  let held = true;
  return {
    file,
    release() {
      if (held) db.close();
      held = false;
    },
  };
}
