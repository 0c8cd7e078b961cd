import { openSqliteReadDatabase } from '../../adapters/read-models/sqlite-read-database.js';
import type { PersistedProjection, ReadDatabase } from '../../core/index.js';

/** A throwaway read database in memory. */
export function memoryReadDb(): ReadDatabase {
  return openSqliteReadDatabase({ path: ':memory:' });
}

/** A persisted view opened on its own in-memory read database (unit tests of one view). */
export function opened<P extends PersistedProjection>(view: P): P {
  view.open(memoryReadDb());
  return view;
}
