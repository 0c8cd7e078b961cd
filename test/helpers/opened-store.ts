import { withPersonalData } from '../../adapters/crypto/personal-data.js';
import { Keys, loadMasterKey } from '../../adapters/kernel/master-key.js';
import type { EventStore } from '../../core/index.js';

/**
 * A store opened as the broker opens it: personal fields (sealed in the log under per-user keys,
 * issue 19) read in clear while their keys exist. `masterKey`: the configured one, else the
 * broker's `<dataDir>/master.key`.
 */
export function openedStore(store: EventStore, source: { dataDir?: string; masterKey?: string }): EventStore {
  return withPersonalData(store, new Keys(loadMasterKey(source.masterKey, source.dataDir ?? null)).derive('data-keys'));
}
