/**
 * The read database port: where persisted projections keep their rows and checkpoints. It is
 * synchronous on purpose (the adapter is SQLite through better-sqlite3): the per-request hot paths
 * (the session check, the gateway, token revocation) read a row in microseconds without a promise,
 * and a projection's `apply` writes inside the engine's transaction without awaiting anything.
 */
export type SqlValue = string | number | bigint | null | Uint8Array;

/** Positional values (`?`), or one object of named values (`@name`). */
export type SqlParams = SqlValue[] | [Record<string, SqlValue>];

export interface ReadStatement<R = Record<string, unknown>> {
  run(...params: SqlParams): { changes: number };
  get(...params: SqlParams): R | undefined;
  all(...params: SqlParams): R[];
  iterate(...params: SqlParams): IterableIterator<R>;
}

export interface ReadDatabase {
  /** Where the rows live (a file path, or ':memory:'). */
  readonly location: string;
  exec(sql: string): void;
  prepare<R = Record<string, unknown>>(sql: string): ReadStatement<R>;
  /** Runs `fn` in one transaction (nested calls join it). */
  transaction<T>(fn: () => T): T;
  /**
   * Makes rows deleted or overwritten so far unrecoverable from the files (an erasure): the
   * database zeroes freed content as it goes (`secure_delete`), this also empties its write-ahead
   * log. Best effort, optional.
   */
  scrub?(): void;
  close(): void;
}
