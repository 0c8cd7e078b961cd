import path from 'node:path';
import type { ReadDatabase } from '../../core/index.js';
import type { BrokerConfig } from '../../config/types.js';
import { openSqliteReadDatabase } from './sqlite-read-database.js';

/**
 * Where this node keeps its read models. Each node has its own file, whatever the log's store:
 * the per-request checks read it synchronously in microseconds, each node folds the shared log
 * itself (so a ban on one node reaches the others through the log, as before), and no lease
 * decides who writes the rows. Beside a SQLite log it is `<log file>.read.db`; with PostgreSQL or
 * EventStoreDB `<dataDir>/read.db`; with a memory log (or a store handed in by a test) it is in
 * memory, unless `readModels.path` says otherwise.
 */
export function readDatabasePath(config: BrokerConfig, storeGiven = false): string {
  if (config.readModels?.path) return config.readModels.path;
  if (storeGiven || config.store.kind === 'memory') return ':memory:';
  if (config.store.kind === 'sqlite') {
    const log = config.store.path ?? path.join(config.dataDir, 'broker.db');
    return log.replace(/\.db$/, '') + '.read.db';
  }
  return path.join(config.dataDir, 'read.db');
}

export function openReadDatabase(config: BrokerConfig, storeGiven = false): ReadDatabase {
  return openSqliteReadDatabase({ path: readDatabasePath(config, storeGiven), cacheMiB: config.readModels?.cacheMiB });
}
