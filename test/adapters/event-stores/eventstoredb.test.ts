/**
 * The contract suite against a real EventStoreDB, when EVENTSTORE_URL is set (e.g.
 * `esdb://127.0.0.1:2113?tls=false`). No server can be installed on the build machines, so
 * without it the suite is skipped with a message; the mapping is unit-tested regardless.
 */
import { describe, it } from 'vitest';
import { EventStoreDbEventStore } from '../../../adapters/event-stores/eventstoredb.js';
import { runEventStoreContract } from './contract.js';

const url = process.env.EVENTSTORE_URL;

if (!url) {
  console.warn('SKIPPED: EventStoreDB contract suite (set EVENTSTORE_URL=esdb://host:2113?tls=false to run it)');
  describe.skip('EventStore contract: eventstoredb (EVENTSTORE_URL not set)', () => it('needs an EventStoreDB server', () => {}));
} else {
  // EventStoreDB has no schemas: each test gets its own stream-name prefix, so its view of `$all`
  // starts empty on a shared server.
  runEventStoreContract('eventstoredb', async () => {
    const streamPrefix = `t${Math.random().toString(36).slice(2, 10)}-`;
    let store = await EventStoreDbEventStore.open({ connectionString: url, streamPrefix });
    return {
      store,
      reopen: async () => {
        await store.close();
        store = await EventStoreDbEventStore.open({ connectionString: url, streamPrefix });
        return store;
      },
      cleanup: () => store.close(),
    };
  });
}
