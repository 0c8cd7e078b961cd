import { openSqliteReadDatabase } from '../adapters/read-models/sqlite-read-database.js';
// Store measurements shared by `npm run bench -- store` and any other store's benchmark (the
// PostgreSQL one runs the same functions against its adapter). Files starting with `_` are not
// benchmarks themselves.
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
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
  type EventStore,
  type NewEvent,
} from '../core/index.js';

export interface Rate {
  count: number;
  ms: number;
  perSec: number;
}

const rate = (count: number, ms: number): Rate => ({ count, ms, perSec: (count * 1000) / ms });

/** Runs `n` tasks with at most `concurrency` in flight. */
async function pool(n: number, concurrency: number, task: (i: number, worker: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (next < n) await task(next++, w);
    }),
  );
}

/**
 * Durable single-event commands through the real command path (Users -> CommandHandler: load the
 * stream, fold, decide, append with the expected revision), `concurrency` callers at once. Each
 * caller owns its users, alternating disable/enable so every command writes exactly one event.
 */
export async function measureCommands(
  store: EventStore,
  opts: { users?: number; commands?: number; concurrency?: number } = {},
): Promise<Rate> {
  const concurrency = opts.concurrency ?? 50;
  const nUsers = opts.users ?? 2000;
  const total = opts.commands ?? 20_000;
  const users = new Users(store);
  const ids: string[] = [];
  await pool(nUsers, concurrency, async (i) => {
    const { userId } = await users.register(
      { email: `bench-${i}-${randomUUID().slice(0, 8)}@example.com`, name: `User ${i}` },
      { actor: 'bench' },
    );
    ids[i] = userId;
  });
  const disabled = new Map<string, boolean>();
  const perWorker = Array.from({ length: concurrency }, () => 0);
  let written = 0;
  const started = performance.now();
  await Promise.all(
    perWorker.map(async (_, w) => {
      for (let k = w; k < total; k += concurrency) {
        // Worker w only touches users w, w + concurrency, ...: no two callers share a stream.
        const userId = ids[(w + concurrency * Math.floor(k / concurrency)) % nUsers];
        const off = disabled.get(userId) ?? false;
        const res = await users.execute(userId, off ? { type: 'enable' } : { type: 'disable', reason: 'bench' }, { actor: 'bench' });
        disabled.set(userId, !off);
        written += res.events.length;
      }
    }),
  );
  const ms = performance.now() - started;
  if (written !== total) throw new Error(`expected ${total} events written, got ${written}`);
  return rate(total, ms);
}

/** Appends of `size` events each, `concurrency` in flight (1 = one writer waiting for each). */
export async function measureBatchedAppends(
  store: EventStore,
  opts: { appends?: number; size?: number; concurrency?: number } = {},
): Promise<{ appends: Rate; events: Rate }> {
  const n = opts.appends ?? 300;
  const size = opts.size ?? 100;
  const run = randomUUID().slice(0, 8);
  const started = performance.now();
  await pool(n, opts.concurrency ?? 1, async (i) => {
    const events = Array.from({ length: size }, (_, k) => loginEvent(`${run}-${i}`, k));
    await store.append(`batch-${run}-${i}`, events, { expectedRevision: 'no_stream' });
  });
  const ms = performance.now() - started;
  return { appends: rate(n, ms), events: rate(n * size, ms) };
}

function loginEvent(user: string, k: number): NewEvent {
  return {
    type: 'LoginSucceeded',
    data: {
      userId: `user-${user}`,
      sessionId: `${user}-${k}`,
      issuer: 'https://idp.example.com',
      subject: `sub-${user}`,
      amr: ['pwd'],
      expiresAt: '2030-01-01T00:00:00.000Z',
      idleTimeoutSeconds: 1800,
      ip: '203.0.113.7',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
    },
    metadata: { actor: `user:${user}` },
  };
}

/**
 * A realistic log: per user a registration (user stream + email reservation), a password, a
 * linked identity, three sessions (login, two refreshes, end) and now and then a ban or a
 * disable. Events are ~250 bytes with metadata. Appends go in concurrent groups so a
 * group-committing store writes them in few transactions.
 */
export async function generateLog(store: EventStore, total: number, onProgress?: (written: number) => void): Promise<number> {
  let written = 0;
  let u = 0;
  while (written < total) {
    const appends: Promise<unknown>[] = [];
    for (let g = 0; g < 300 && written < total; g++, u++) {
      const userId = `${u.toString(36)}-${randomUUID()}`;
      // Metadata as the broker writes it: the actor (the address and browser of a login are in its data).
      const meta = { actor: 'system' };
      const userEvents: NewEvent[] = [
        { type: 'UserRegistered', data: { userId, email: `user${u}@example.com`, name: `User Number ${u}`, via: 'local' }, metadata: meta },
        { type: 'PasswordSet', data: { userId, passwordHash: `$argon2id$v=19$m=19456,t=2,p=1$${randomUUID()}` }, metadata: meta },
        { type: 'ExternalIdentityLinked', data: { userId, issuer: 'https://accounts.example.com', subject: `g-${u}` }, metadata: meta },
      ];
      if (u % 17 === 0)
        userEvents.push({ type: 'UserBanned', data: { userId, reason: 'abuse report', actor: 'admin:1' }, metadata: { actor: 'admin:1' } });
      if (u % 23 === 0) userEvents.push({ type: 'AccountDisabled', data: { userId, reason: null }, metadata: { actor: 'admin:1' } });
      appends.push(store.append(`user-${userId}`, userEvents));
      appends.push(store.append(`email-${userId}`, [{ type: 'ReservationClaimed', data: { key: userId, userId }, metadata: meta }]));
      written += userEvents.length + 1;
      for (let s = 0; s < 3; s++) {
        const sessionId = randomUUID();
        const m = { actor: `user:${userId}` };
        appends.push(
          store.append(`session-${sessionId}`, [
            { ...loginEvent(userId, s), data: { ...(loginEvent(userId, s).data as object), userId, sessionId } } as NewEvent,
            { type: 'SessionRefreshed', data: { sessionId, userId }, metadata: m },
            { type: 'SessionRefreshed', data: { sessionId, userId }, metadata: m },
            { type: 'SessionEnded', data: { sessionId, userId, reason: 'logout' }, metadata: m },
          ]),
        );
        written += 4;
      }
    }
    await Promise.all(appends);
    onProgress?.(written);
  }
  return written;
}

/** A projection engine holding the core read models, as the broker runs it. */
export function coreEngine(): ProjectionEngine {
  const engine = new ProjectionEngine(openSqliteReadDatabase({ path: ':memory:' }));
  for (const p of [new UsersView(), new IdentitiesView(), new BansView(), new AuditView(), new SessionsView(), new SitesView()])
    engine.add(p);
  return engine;
}

/** Replays the whole log into the core read models; peak RSS is the process's (run it in a fresh one). */
export async function measureReplay(store: EventStore): Promise<Rate & { peakRssMiB: number; unknown: number }> {
  const engine = coreEngine();
  const r = await replayLog(store, engine);
  const users = engine.get<UsersView>('users')!;
  if (users.count() === 0 && r.applied > 0) throw new Error('replay applied nothing to the users view');
  return { ...rate(r.applied, r.ms), peakRssMiB: process.resourceUsage().maxRSS / 1024, unknown: engine.unknown.length };
}

// --- bare better-sqlite3 baselines (the floor any SQLite store pays) ---

const PAYLOAD = JSON.stringify(loginEvent('baseline-user-000000', 0).data);
const META = JSON.stringify({
  recordedAt: new Date().toISOString(),
  actor: 'user:baseline',
  correlationId: randomUUID(),
  causationId: null,
});

/** `perTx` inserts of a ~250-byte event per transaction, in WAL with the given synchronous. */
export function measureBareSqlite(file: string, synchronous: 'FULL' | 'NORMAL', transactions: number, perTx = 1): Rate {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.exec('CREATE TABLE IF NOT EXISTS t (position INTEGER PRIMARY KEY, id TEXT UNIQUE, data TEXT, metadata TEXT)');
  const ins = db.prepare('INSERT INTO t (id, data, metadata) VALUES (?, ?, ?)');
  const tx = db.transaction(() => {
    for (let i = 0; i < perTx; i++) ins.run(randomUUID(), PAYLOAD, META);
  });
  const started = performance.now();
  for (let i = 0; i < transactions; i++) tx();
  const ms = performance.now() - started;
  db.close();
  return rate(transactions * perTx, ms);
}

/** Reads every row of a store file and parses its two JSON columns: the floor of a replay. */
export function measureBareSqliteRead(file: string): Rate {
  const db = new Database(file, { readonly: true });
  const started = performance.now();
  let n = 0;
  for (const row of db.prepare('SELECT position, data, metadata FROM events ORDER BY position').raw().iterate() as IterableIterator<
    [number, string, string]
  >) {
    JSON.parse(row[1]);
    JSON.parse(row[2]);
    n++;
  }
  const ms = performance.now() - started;
  db.close();
  return rate(n, ms);
}
