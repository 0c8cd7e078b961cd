import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import {
  AuditView,
  BansView,
  IdentitiesView,
  ProjectionEngine,
  SessionsView,
  SitesView,
  Users,
  UsersView,
  replayLog,
} from '../../../core/index.js';
import { memoryReadDb } from '../../helpers/read-db.js';

function engineWithViews(): { engine: ProjectionEngine; users: UsersView; bans: BansView; audit: AuditView; identities: IdentitiesView } {
  const engine = new ProjectionEngine(memoryReadDb());
  const users = new UsersView();
  const bans = new BansView();
  const audit = new AuditView();
  const identities = new IdentitiesView();
  for (const p of [users, identities, bans, audit, new SessionsView(), new SitesView()]) engine.add(p);
  return { engine, users, bans, audit, identities };
}

describe('ProjectionEngine', () => {
  it('read-your-writes: a command returns its position and waitFor resolves once every view has applied it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proj-'));
    const store = await SqliteEventStore.open({ path: path.join(dir, 'e.db'), pollMs: 10_000 });
    const { engine, users: view, bans, audit, identities } = engineWithViews();
    await engine.prepare(store);
    engine.start(store);
    try {
      const users = new Users(store);
      for (let i = 0; i < 20; i++) {
        const { userId, position } = await users.register({ email: `u${i}@example.com`, name: `U${i}` }, { actor: 'test' });
        const ban = await users.execute(userId, { type: 'ban', reason: 'spam', actor: 'admin:1' }, { actor: 'admin:1' });
        expect(ban.position).toBeGreaterThan(position);
        await engine.waitFor(ban.position);
        // Right after waitFor, without any other wait, every view shows the write.
        expect(view.findByEmail(`u${i}@example.com`)?.userId).toBe(userId);
        expect(view.get(userId)?.banned).toMatchObject({ reason: 'spam', actor: 'admin:1' });
        expect(bans.isBanned(userId)).toBe(true);
        expect(audit.timeline(userId).map((e) => e.type)).toEqual(['ReservationClaimed', 'UserRegistered', 'UserBanned']);
        for (const p of engine.names) expect(engine.checkpointOf(p)).toBeGreaterThanOrEqual(ban.position);
      }
      const { userId } = await users.register({}, { actor: 'test' });
      const link = await users.execute(userId, { type: 'linkIdentity', issuer: 'https://idp', subject: 'x' }, { actor: 'test' });
      await engine.waitFor(link.position);
      expect(identities.userFor('https://idp', 'x')).toBe(userId);
    } finally {
      engine.stop();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('waitFor resolves at once for a past position, rejects after its timeout, and stop() rejects waiters', async () => {
    const store = new MemoryEventStore();
    const { engine } = engineWithViews();
    await engine.prepare(store);
    engine.start(store);
    const r = await new Users(store).register({}, { actor: 't' });
    await engine.waitFor(r.position);
    await expect(engine.waitFor(r.position)).resolves.toBeUndefined();
    await expect(engine.waitFor(r.position + 100, 30)).rejects.toThrow(/did not reach position/);
    const pending = engine.waitFor(r.position + 100, 5000);
    engine.stop();
    await expect(pending).rejects.toThrow(/stopped/);
    await store.close();
  });

  it('replayLog rebuilds the same state from the log, and stops at a position or a time', async () => {
    const store = new MemoryEventStore();
    const users = new Users(store);
    const live = engineWithViews();
    await live.engine.prepare(store);
    live.engine.start(store);
    const a = await users.register({ email: 'a@example.com' }, { actor: 't' });
    const banned = await users.execute(a.userId, { type: 'ban', reason: 'r', actor: 'admin:1' }, { actor: 'admin:1' });
    await users.execute(a.userId, { type: 'unban', reason: null, actor: 'admin:1' }, { actor: 'admin:1' });
    const last = await users.register({ email: 'b@example.com' }, { actor: 't' });
    await live.engine.waitFor(last.position);

    const replayed = engineWithViews();
    const progress: number[] = [];
    const r = await replayLog(store, replayed.engine, { pageSize: 2, onProgress: (n) => progress.push(n) });
    expect(r.applied).toBe(await store.headPosition());
    expect(progress.length).toBeGreaterThan(1);
    expect([...replayed.users.each()]).toEqual([...live.users.each()]);
    expect(replayed.bans.isBanned(a.userId)).toBe(false);

    const asOf = engineWithViews();
    await replayLog(store, asOf.engine, { until: banned.position });
    expect(asOf.bans.isBanned(a.userId)).toBe(true);
    expect(asOf.users.findByEmail('b@example.com')).toBeUndefined();

    const before = engineWithViews();
    await replayLog(store, before.engine, { until: new Date('2000-01-01T00:00:00Z') });
    expect(before.engine.applied).toBe(0);
    live.engine.stop();
    await store.close();
  });
});
