// The Users service and its reservation streams, on the memory store and on a real SQLite file
// (where concurrent commands are group-committed and conflicts happen inside one transaction).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect, vi } from 'vitest';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import {
  CommandHandler,
  CommandRejected,
  ERASED,
  InvalidInput,
  Users,
  reservationStream,
  userStream,
  type EventStore,
} from '../../../core/index.js';
import { withPersonalData } from '../../../adapters/crypto/personal-data.js';

const stores: [string, () => Promise<{ store: EventStore; done: () => Promise<void> }>][] = [
  ['memory', async () => ({ store: new MemoryEventStore(), done: async () => {} })],
  [
    'sqlite',
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'users-'));
      const store = await SqliteEventStore.open({ path: path.join(dir, 'e.db') });
      return { store, done: async () => (await store.close(), fs.rmSync(dir, { recursive: true, force: true })) };
    },
  ],
];

const meta = { actor: 'test' };

for (const [kind, open] of stores) {
  describe(`Users (${kind})`, () => {
    const withUsers = async (body: (users: Users, store: EventStore) => Promise<void>) => {
      const { store, done } = await open();
      try {
        await body(new Users(store), store);
      } finally {
        await done();
      }
    };

    it('an email is unique, case-insensitively; the reservation stream does not carry the address', () =>
      withUsers(async (users, store) => {
        const a = await users.register({ email: 'Alice@Example.com', name: 'A' }, meta);
        await expect(users.register({ email: ' alice@example.COM ' }, meta)).rejects.toBeInstanceOf(CommandRejected);
        expect(await users.findByEmail('ALICE@example.com')).toBe(a.userId);
        expect(await users.findByEmail('bob@example.com')).toBeNull();
        const stream = reservationStream('email', 'alice@example.com');
        expect(stream).not.toContain('alice');
        expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['ReservationClaimed']);
        await expect(users.register({ email: 'not an email' }, meta)).rejects.toBeInstanceOf(InvalidInput);
      }));

    it('concurrent registrations of one email: exactly one user gets it', () =>
      withUsers(async (users, store) => {
        const results = await Promise.allSettled(Array.from({ length: 8 }, () => users.register({ email: 'race@example.com' }, meta)));
        const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r] : []));
        expect(ok).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(CommandRejected);
        expect(await users.findByEmail('race@example.com')).toBe(ok[0].value.userId);
        // Losers never wrote a user stream.
        const all = await store.readAll({ limit: 1000 });
        expect(all.filter((e) => e.type === 'UserRegistered')).toHaveLength(1);
      }));

    it('sub@issuer is unique across users; unlink and erase release it, so another user can take it', () =>
      withUsers(async (users) => {
        const a = await users.register({ email: 'a@example.com' }, meta);
        const b = await users.register({ email: 'b@example.com' }, meta);
        const link = { type: 'linkIdentity', issuer: 'https://idp.example.com', subject: 'S1' } as const;
        await users.execute(a.userId, link, meta);
        await users.execute(a.userId, link, meta); // idempotent for the holder
        await expect(users.execute(b.userId, link, meta)).rejects.toBeInstanceOf(CommandRejected);
        expect(await users.findByIdentity('https://idp.example.com', 'S1')).toBe(a.userId);
        await users.execute(a.userId, { type: 'unlinkIdentity', issuer: link.issuer, subject: link.subject }, meta);
        expect(await users.findByIdentity(link.issuer, link.subject)).toBeNull();
        await users.execute(b.userId, link, meta);
        expect(await users.findByIdentity(link.issuer, link.subject)).toBe(b.userId);
        await users.execute(b.userId, { type: 'erase', actor: 'admin:1' }, meta);
        expect(await users.findByIdentity(link.issuer, link.subject)).toBeNull();
        expect(await users.findByEmail('b@example.com')).toBeNull();
        const c = await users.register({ email: 'b@example.com' }, meta);
        expect(await users.findByEmail('b@example.com')).toBe(c.userId);
      }));

    it('an erased holder whose release never landed (a crash after UserErased) does not keep the email from a new account', () =>
      withUsers(async (users, store) => {
        const a = await users.register({ email: 'gone@example.com' }, meta);
        // UserErased recorded, then the process died before releasing the reservation.
        await store.append(userStream(a.userId), [{ type: 'UserErased', data: { userId: a.userId, actor: 'admin:1', reason: null } }]);
        expect(await users.findByEmail('gone@example.com')).toBe(a.userId);
        // A fresh claim may still be a registration in flight: taken over only once it is old enough.
        await expect(users.register({ email: 'gone@example.com' }, meta)).rejects.toBeInstanceOf(CommandRejected);
        vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 120_000 });
        try {
          const b = await users.register({ email: 'gone@example.com' }, meta);
          expect(await users.findByEmail('gone@example.com')).toBe(b.userId);
          // A live holder keeps it, however old the claim.
          await expect(users.register({ email: 'gone@example.com' }, meta)).rejects.toBeInstanceOf(CommandRejected);
        } finally {
          vi.useRealTimers();
        }
      }));

    it('repeating an erasure records nothing and destroys the key a crash after UserErased left alive', async () => {
      const { store: inner, done } = await open();
      try {
        const store = withPersonalData(inner, Buffer.alloc(32, 7));
        const users = new Users(store);
        const a = await users.register({ email: 'shred@example.com', name: 'Shred Me' }, meta);
        await store.append(userStream(a.userId), [{ type: 'UserErased', data: { userId: a.userId, actor: 'admin:1', reason: null } }]);
        const first = await store.readStream(userStream(a.userId));
        expect(first[0].data).toMatchObject({ email: 'shred@example.com' });
        const again = await users.execute(a.userId, { type: 'erase', actor: 'admin:1' }, meta);
        expect(again.events).toEqual([]);
        expect(again.position).toBe(first.at(-1)!.position);
        const after = await store.readStream(userStream(a.userId));
        expect(after).toHaveLength(first.length);
        expect(after[0].data).toMatchObject({ email: ERASED, name: ERASED });
        await expect(users.execute(a.userId, { type: 'setPassword', passwordHash: 'h' }, meta)).rejects.toBeInstanceOf(CommandRejected);
      } finally {
        await done();
      }
    });

    it('changing the email moves the reservation', () =>
      withUsers(async (users) => {
        const a = await users.register({ email: 'old@example.com' }, meta);
        await users.register({ email: 'taken@example.com' }, meta);
        await expect(users.execute(a.userId, { type: 'updateProfile', email: 'taken@example.com' }, meta)).rejects.toBeInstanceOf(
          CommandRejected,
        );
        await users.execute(a.userId, { type: 'updateProfile', email: 'New@example.com' }, meta);
        expect(await users.findByEmail('new@example.com')).toBe(a.userId);
        expect(await users.findByEmail('old@example.com')).toBeNull();
        expect((await users.load(a.userId)).email).toBe('new@example.com');
      }));

    it('concurrent commands on one user all land: the handler retries on conflict, revisions stay contiguous', () =>
      withUsers(async (users, store) => {
        const { userId } = await users.register({ email: 'c@example.com' }, meta);
        const res = await Promise.all(
          Array.from({ length: 6 }, (_, i) => users.execute(userId, { type: 'setPassword', passwordHash: `h${i}` }, meta)),
        );
        const events = await store.readStream(userStream(userId));
        expect(events.map((e) => e.revision)).toEqual([0, 1, 2, 3, 4, 5, 6]);
        expect(new Set(res.map((r) => r.revision)).size).toBe(6);
        // A command that decides nothing writes nothing and returns the current position.
        const again = await users.execute(userId, { type: 'enable' }, meta);
        expect(again.events).toEqual([]);
        expect(again.position).toBe(events[6].position);
      }));

    it('the handler gives up after its bounded retries', () =>
      withUsers(async (_, store) => {
        const users = new Users(store, new CommandHandler(store, 0));
        const { userId } = await users.register({}, meta);
        const results = await Promise.allSettled(
          Array.from({ length: 4 }, () => users.execute(userId, { type: 'setPassword', passwordHash: 'h' }, meta)),
        );
        const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(failed.length).toBeGreaterThan(0);
        for (const f of failed) expect(f.reason).toMatchObject({ name: 'WrongExpectedRevision' });
      }));

    it('records the actor and metadata of the command on its events', () =>
      withUsers(async (users, store) => {
        const { userId } = await users.register({}, meta);
        await users.execute(
          userId,
          { type: 'ban', reason: 'spam', actor: 'admin:9' },
          { actor: 'admin:9', correlationId: 'req-1', extra: { ip: '192.0.2.1' } },
        );
        const [, ban] = await store.readStream(userStream(userId));
        expect(ban.metadata).toMatchObject({ actor: 'admin:9', correlationId: 'req-1', ip: '192.0.2.1', causationId: null });
      }));
  });
}
