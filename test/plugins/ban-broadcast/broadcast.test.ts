import { describe, it, expect, afterEach } from 'vitest';
import type { Broker } from '../../../adapters/kernel/boot.js';
import { startReceiver, until, secretFor, type Receiver } from './receivers.js';
import { bootWith, site, banSomeone, eventsOf, fastConfig } from './setup.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { StreamCheckpoint, Users, type RecordedEvent } from '../../../core/index.js';

describe('ban broadcast: Standard Webhooks', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  const track = <T extends Broker | Receiver>(x: T): T => {
    cleanup.push(() => ('stop' in x ? x.stop() : x.close()) as Promise<void>);
    return x;
  };

  it('POSTs a signed notification of a ban, an unban and an erasure to every site, verified by the standardwebhooks package', async () => {
    const rs = await Promise.all([0, 1, 2].map((i) => startReceiver(secretFor(i)).then(track)));
    const broker = track(await bootWith(rs.map((r, i) => site(`site${i}`, r.url, secretFor(i)))));
    const { userId, ban } = await banSomeone(broker, 'spam', 'sub-42');
    await until(() => rs.every((r) => r.acked.length === 1), 5000, 'every site acknowledged the ban');
    for (const r of rs) {
      const d = r.received[0];
      expect(d.verified).toBe(true);
      expect(d.headers['webhook-id']).toBe(ban.id);
      expect(JSON.parse(d.body)).toEqual({
        type: 'user.banned',
        timestamp: ban.metadata.recordedAt,
        data: { eventId: ban.id, userId, identities: ['sub-42@https://idp.example.com'], reason: 'spam', actor: 'admin:root', until: null },
      });
    }
    const unban = await broker.users.execute(userId, { type: 'unban', reason: 'appeal', actor: 'admin:root' }, { actor: 'admin:root' });
    await until(() => rs.every((r) => r.acked.length === 2), 5000, 'every site acknowledged the unban');
    const erase = await broker.users.execute(userId, { type: 'erase', actor: 'admin:root' }, { actor: 'admin:root' });
    await until(() => rs.every((r) => r.acked.length === 3), 5000, 'every site acknowledged the erasure');
    for (const r of rs) {
      expect(r.received.every((x) => x.verified)).toBe(true);
      expect(r.received.map((x) => JSON.parse(x.body).type)).toEqual(['user.banned', 'user.unbanned', 'user.erased']);
      expect(r.received[1].headers['webhook-id']).toBe(unban.events[0].id);
      // The erasure names the user by id alone: its subjects went with its data key (issue 19).
      expect(JSON.parse(r.received[2].body).data).toMatchObject({
        eventId: erase.events[0].id,
        userId: expect.any(String),
        identities: [],
      });
      expect(r.received[2].body).not.toContain('sub-42');
    }
    await until(async () => (await eventsOf(broker.store, 'BanNotificationDelivered')).length === 9, 2000, 'nine Delivered events');
    const delivered = await eventsOf(broker.store, 'BanNotificationDelivered');
    expect(delivered.every((e) => (e.data as { status: number; durationMs: number }).status === 200)).toBe(true);
  });

  it('sends each notification once per attempt when two broker nodes share the log (the lease)', async () => {
    const rs = await Promise.all([0, 1, 2, 3].map((i) => startReceiver(secretFor(i)).then(track)));
    const sites = rs.map((r, i) => site(`site${i}`, r.url, secretFor(i)));
    const store = new MemoryEventStore();
    const a = track(await bootWith(sites, undefined, store));
    const b = track(await bootWith(sites, undefined, store));
    await banSomeone(a);
    await until(() => rs.every((r) => r.acked.length >= 1), 5000, 'every site acknowledged');
    // Give node b the time to take the lease after a released it, and look at the work itself.
    await until(async () => (await eventsOf(store, 'LeaseReleased')).length >= 1, 3000, 'the lease to be released when idle');
    await until(
      async () => (await b.store.headPosition()) > 0 && b.projections.position === (await store.headPosition()),
      3000,
      'node b caught up',
    );
    expect(rs.map((r) => r.received.length)).toEqual([1, 1, 1, 1]);
    expect((await eventsOf(store, 'BanNotificationDelivered')).length).toBe(4);
    expect((await eventsOf(store, 'BanBroadcastQueued')).length).toBe(1);
  });
  it('two nodes write one batched checkpoint stream: the lease holder saves it, not every node for every ban', async () => {
    const rs = await Promise.all([0, 1].map((i) => startReceiver(secretFor(i)).then(track)));
    const sites = rs.map((r, i) => site(`site${i}`, r.url, secretFor(i)));
    const store = new MemoryEventStore();
    const a = track(await bootWith(sites, undefined, store));
    const b = track(await bootWith(sites, undefined, store));
    const bans: RecordedEvent[] = [];
    for (let i = 0; i < 10; i++) bans.push((await banSomeone(i % 2 ? a : b)).ban);
    await until(() => rs.every((r) => r.acked.length >= bans.length), 10_000, 'every ban acknowledged by every site');
    const last = bans[bans.length - 1].position;
    // Saved when the holder goes idle and hands the lease back.
    await until(
      async () => (await new StreamCheckpoint(store, 'ban-broadcast').load()) >= last,
      5000,
      'the checkpoint to pass the last ban',
    );
    const written = await eventsOf(store, 'ReactorCheckpointed');
    // Before: one per ban per node (20 here). Now: the first start's mark, then a batch or two.
    expect(written.length).toBeLessThanOrEqual(3);
    expect(rs.map((r) => r.received.length)).toEqual([bans.length, bans.length]);
  });

  it('a pending retry lives in the log: a broker stopped before the retry is due hands it to the next one', async () => {
    const r = track(await startReceiver(secretFor(0), (n, _q, res) => void res.writeHead(n === 0 ? 503 : 200).end()));
    // A durable store: stopping a broker closes its store, the next one opens the same file.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ban-retry-'));
    cleanup.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const open = () => SqliteEventStore.open({ path: path.join(dir, 'broker.db'), synchronous: 'NORMAL' });
    let store = await open();
    const sites = [site('s', r.url, secretFor(0))];
    const a = await bootWith(sites, { ...fastConfig, retry: { initialDelayMs: 1500, maxDelayMs: 1500, horizonMs: 60_000 } }, store);
    const { ban } = await banSomeone(a);
    await until(async () => (await eventsOf(store, 'BanNotificationFailed')).length === 1, 5000, 'the first failure');
    await a.stop();
    expect(r.received).toHaveLength(1);
    store = await open();
    const due = Date.parse(((await eventsOf(store, 'BanNotificationFailed'))[0].data as { nextAttemptAt: string }).nextAttemptAt);
    track(await bootWith(sites, fastConfig, store));
    await until(() => r.acked.length === 1, 5000, 'the retry from the second broker');
    expect(r.received[1].at).toBeGreaterThanOrEqual(due - 5);
    expect(r.received[1].headers['webhook-id']).toBe(ban.id);
    expect(r.received[1].verified).toBe(true);
  });
  it('on its first start, leaves bans recorded before the plugin was enabled alone (unless backfill), and sends new ones', async () => {
    const r = track(await startReceiver(secretFor(0)));
    const store = new MemoryEventStore();
    const users = new Users(store);
    const old = await users.register({ email: 'old@example.com' }, { actor: 'test' });
    await users.execute(old.userId, { type: 'ban', reason: 'long ago', actor: 'admin:root' }, { actor: 'admin:root' });
    const broker = track(await bootWith([site('s', r.url, secretFor(0))], fastConfig, store));
    const { ban } = await banSomeone(broker);
    await until(() => r.acked.length === 1, 5000, 'the new ban');
    expect(r.received.map((x) => x.headers['webhook-id'])).toEqual([ban.id]);
    expect(await eventsOf(store, 'BanBroadcastQueued')).toHaveLength(1);

    const r2 = track(await startReceiver(secretFor(1)));
    const store2 = new MemoryEventStore();
    const oldBan = await new Users(store2)
      .register({ email: 'old@example.com' }, { actor: 'test' })
      .then((u) => new Users(store2).execute(u.userId, { type: 'ban', reason: 'x', actor: 'a' }, { actor: 'a' }));
    track(await bootWith([site('s', r2.url, secretFor(1))], { ...fastConfig, backfill: true }, store2));
    await until(() => r2.acked.length === 1, 5000, 'the backfilled ban');
    expect(r2.received[0].headers['webhook-id']).toBe(oldBan.events[0].id);
  });
});
