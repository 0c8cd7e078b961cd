import { describe, it, expect } from 'vitest';
import { ManualClock, StreamLease, StreamCheckpoint } from '../../../core/index.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';

describe('StreamLease (a lease kept in the event log)', () => {
  const setup = () => {
    const store = new MemoryEventStore();
    const clock = new ManualClock();
    const lease = (holder: string) => new StreamLease(store, { name: 'work', holder, durationMs: 10_000, clock });
    return { store, clock, lease };
  };

  it('a second process with the same node id (a misconfigured cluster.nodeId, or the node restarted) is not the holder until the lease expires', async () => {
    const { lease, clock } = setup();
    const first = lease('web-1');
    const second = lease('web-1');
    expect(await first.acquire()).toBe(true);
    expect(await second.acquire()).toBe(false);
    expect(second.isHeld()).toBe(false);
    expect(await second.release()).toBe(false);
    clock.advance(10_001);
    expect(await second.acquire()).toBe(true);
    expect(second.lastAcquisition).toEqual({ how: 'expired', previous: 'web-1' });
    expect(await first.renew()).toBe(false);
  });

  it('lets exactly one of two racing nodes take it', async () => {
    const { lease } = setup();
    const a = lease('a');
    const b = lease('b');
    const [ga, gb] = await Promise.all([a.acquire(), b.acquire()]);
    expect([ga, gb].filter(Boolean)).toHaveLength(1);
    expect(a.isHeld() !== b.isHeld()).toBe(true);
  });

  it('refuses another holder until the lease expires, then lets it take over; the old holder cannot renew', async () => {
    const { lease, clock } = setup();
    const a = lease('a');
    const b = lease('b');
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    expect(b.otherExpiresAt()).toBe(clock.now().getTime() + 10_000);
    clock.advance(9_000);
    expect(a.isHeld()).toBe(false); // inside the safety margin: stop acting before expiry
    expect(await b.acquire()).toBe(false);
    clock.advance(1_001);
    expect(await b.acquire()).toBe(true);
    expect(await a.renew()).toBe(false);
    expect(a.isHeld()).toBe(false);
  });

  it('renews while held and hands over at once when released', async () => {
    const { lease, clock } = setup();
    const a = lease('a');
    const b = lease('b');
    await a.acquire();
    clock.advance(5_000);
    expect(await a.renew()).toBe(true);
    clock.advance(5_000);
    expect(a.isHeld()).toBe(true);
    expect(await b.acquire()).toBe(false);
    await a.release();
    expect(await b.acquire()).toBe(true);
  });
});

describe('StreamCheckpoint', () => {
  it('keeps the highest position written, across instances (a restart)', async () => {
    const store = new MemoryEventStore();
    const c1 = new StreamCheckpoint(store, 'r');
    expect(await c1.load()).toBe(0);
    await c1.save(5);
    await c1.save(3); // never goes back
    await new StreamCheckpoint(store, 'other').save(99);
    expect(await new StreamCheckpoint(store, 'r').load()).toBe(5);
  });
});
