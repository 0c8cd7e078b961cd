// Given events, when command, then events (or error): the one-time-use Decider, and useOnce racing on a real store.
import { describe, it, expect } from 'vitest';
import { AlreadyUsed, CommandHandler, onceDecider, useOnce, type EventOf } from '../../../core/index.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';

type Used = EventOf<'ReservationReleased'>;
const used: Used = { type: 'ReservationReleased', data: { key: 'k', userId: 'u' } as never };

describe('once decider', () => {
  it('records the use on an empty stream, and refuses any second use', () => {
    const d = onceDecider<Used>();
    expect(d.decide({ type: 'use', event: used }, d.initialState())).toEqual([used]);
    const after = d.evolve(d.initialState(), used);
    expect(() => d.decide({ type: 'use', event: used }, after)).toThrow(AlreadyUsed);
  });

  it('lets exactly one of many concurrent uses through (CommandHandler retries, then decides on the written stream)', async () => {
    const store = new MemoryEventStore();
    const commands = new CommandHandler(store);
    const results = await Promise.all(Array.from({ length: 8 }, () => useOnce(commands, 'once-x', used, { actor: 'system' })));
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    expect(await store.readStream('once-x')).toHaveLength(1);
    await store.close();
  });
});
