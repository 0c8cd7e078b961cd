import path from 'node:path';
import type { EventStore, Logger } from '../../core/index.js';
import type { StoreConfig } from '../../config/types.js';
import { MemoryEventStore } from './memory.js';

/** The SQLite file of a `sqlite` store: `store.path`, else `<dataDir>/broker.db`. */
export function sqlitePath(cfg: StoreConfig, dataDir: string): string {
  return cfg.path ?? path.join(dataDir, 'broker.db');
}

/** Opens the configured event store. Drivers load lazily so a SQLite broker never loads `pg`. */
export async function openEventStore(cfg: StoreConfig, dataDir: string, logger?: Logger): Promise<EventStore> {
  switch (cfg.kind) {
    case 'memory':
      return new MemoryEventStore();
    case 'sqlite': {
      const { SqliteEventStore } = await import('./sqlite.js');
      return SqliteEventStore.open({ path: sqlitePath(cfg, dataDir), synchronous: cfg.synchronous ?? 'FULL' });
    }
    case 'postgres': {
      const { PostgresEventStore } = await import('./postgres.js');
      return PostgresEventStore.open({ connectionString: cfg.url!, schema: cfg.schema ?? 'broker', poolMax: cfg.poolMax ?? 10, logger });
    }
    case 'eventstoredb': {
      const { EventStoreDbEventStore } = await import('./eventstoredb.js');
      return EventStoreDbEventStore.open({ connectionString: cfg.url! });
    }
  }
}
