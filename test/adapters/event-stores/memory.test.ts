import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import { runEventStoreContract } from './contract.js';

runEventStoreContract('memory', async () => {
  const store = new MemoryEventStore();
  return { store, cleanup: () => store.close() };
});
