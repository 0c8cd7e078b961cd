// Child process of bench/store.ts: replays a store's whole log into the core read models in a
// fresh process, so the peak RSS reported is the replay's and not the generator's.
// usage: _store-replay.ts '<StoreConfig JSON>' [<sqlite file for the bare read baseline>]
import { openEventStore } from '../adapters/event-stores/open.js';
import type { StoreConfig } from '../config/types.js';
import { measureBareSqliteRead, measureReplay } from './_store-measure.js';

const cfg = JSON.parse(process.argv[2]) as StoreConfig;
const store = await openEventStore(cfg, process.cwd());
const replay = await measureReplay(store);
await store.close();
const bare = process.argv[3] ? measureBareSqliteRead(process.argv[3]) : null;
process.stdout.write(JSON.stringify({ replay, bare }) + '\n');
