/**
 * Helpers of the persisted read-model fault tests (issue 15): a log seeded straight through the
 * store, the core tables dumped row by row, and the same tables rebuilt from the log into a fresh
 * in-memory read database to compare with.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { freshReadModels } from '../../../adapters/cli/context.js';
import { bootBroker } from '../../../adapters/kernel/boot.js';
import { brokerLoggerOptions } from '../../../adapters/http/logging.js';
import { loadConfig } from '../../../config/load.js';
import { logCollector } from '../../helpers/broker.js';
import { replayLog, type EventStore, type NewEvent } from '../../../core/index.js';

/** Every core read model's table (users_meta holds the live-user count the pages show). */
export const CORE_TABLES = ['users', 'users_meta', 'sessions', 'bans', 'identities', 'audit', 'sites'] as const;
export const CORE_PROJECTIONS = ['users', 'identities', 'bans', 'audit', 'sessions', 'sites'] as const;

interface Queryable {
  prepare(sql: string): { all(...p: unknown[]): unknown[] };
}

/** Each core table's rows, ordered by every column (so two dumps compare row by row). */
export function dumpTables(db: Queryable): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const t of CORE_TABLES) {
    const cols = (db.prepare(`PRAGMA table_info("${t}")`).all() as { name: string }[]).map((c) => `"${c.name}"`);
    out[t] = cols.length ? db.prepare(`SELECT * FROM "${t}" ORDER BY ${cols.join(', ')}`).all() : [];
  }
  return out;
}

/** The persisted rows of a read database file (opened on its own, after the broker is gone). */
export function dumpFile(file: string): {
  tables: Record<string, unknown[]>;
  checkpoints: Record<string, { version: number; position: number; rebuild_reason: string | null }>;
  /** Events a projection could not apply and skipped (none expected here). */
  failures: unknown[];
} {
  const db = new Database(file);
  try {
    const rows = db.prepare('SELECT name, version, position, rebuild_reason FROM projection_checkpoints').all() as {
      name: string;
      version: number;
      position: number;
      rebuild_reason: string | null;
    }[];
    return {
      tables: dumpTables(db),
      checkpoints: Object.fromEntries(
        rows.map((r) => [r.name, { version: r.version, position: r.position, rebuild_reason: r.rebuild_reason }]),
      ),
      failures: db.prepare('SELECT * FROM projection_failures').all(),
    };
  } finally {
    db.close();
  }
}

/** Each core projection's tables. */
export const TABLES_OF: Record<(typeof CORE_PROJECTIONS)[number], readonly string[]> = {
  users: ['users', 'users_meta', 'user_providers'],
  identities: ['identities'],
  bans: ['bans'],
  audit: ['audit'],
  sessions: ['sessions'],
  sites: ['sites'],
};

/** The core tables as a fresh rebuild from the whole log computes them (what `broker replay` does). */
export async function freshDump(store: EventStore, until?: number): Promise<{ tables: Record<string, unknown[]>; head: number }> {
  const { engine } = freshReadModels();
  try {
    const r = await replayLog(store, engine, { until });
    return { tables: dumpTables(engine.db!), head: r.position };
  } finally {
    engine.db!.close();
  }
}

/**
 * Appends about `events` events straight through `store.append`, in big batches (20 appends of
 * 350 events in flight at once), touching every core table: users registered, linked, given roles,
 * some banned, renamed or erased; sessions opened, refreshed, some ended; a few sites.
 */
export async function seedLog(store: EventStore, events: number, tag = randomUUID().slice(0, 8)): Promise<number> {
  const perUser = 7;
  const users = Math.ceil(events / perUser);
  const expiresAt = new Date(Date.now() + 8 * 3600_000).toISOString();
  // Big batches: the events of 50 users in one append (the projections read `data`, not the stream).
  const work: [string, NewEvent[]][] = [];
  let chunk: NewEvent[] = [];
  for (let i = 0; i < users; i++) {
    const userId = `u-${tag}-${i}`;
    const sessionId = `s-${tag}-${i}`;
    chunk.push(
      { type: 'UserRegistered', data: { userId, email: `${userId}@example.com`, name: `User ${i}` } },
      { type: 'ExternalIdentityLinked', data: { userId, issuer: 'https://idp.example', subject: `sub-${tag}-${i}` } },
      { type: 'RolesAssigned', data: { userId, roles: [`r${i % 3}`], tenant: i % 2 ? 'acme' : null, source: 'seed' } },
      i % 7 === 3
        ? { type: 'UserBanned', data: { userId, reason: 'seed', actor: 'admin:seed' } }
        : i % 11 === 5
          ? { type: 'UserErased', data: { userId, actor: 'admin:seed' } }
          : { type: 'UserProfileUpdated', data: { userId, name: `Renamed ${i}` } },
      {
        type: 'LoginSucceeded',
        data: { userId, sessionId, issuer: 'local', subject: userId, amr: ['pwd'], expiresAt, idleTimeoutSeconds: 1800 },
      },
      { type: 'SessionRefreshed', data: { sessionId, userId } },
      i % 5 === 0
        ? { type: 'SessionEnded', data: { sessionId, userId, reason: 'logout' } }
        : { type: 'SessionRefreshed', data: { sessionId, userId } },
    );
    if (chunk.length >= 50 * perUser || i === users - 1) {
      work.push([`seed-${tag}-${work.length}`, chunk]);
      chunk = [];
    }
  }
  for (let i = 0; i < 5; i++)
    work.push([
      `site-${tag}-${i}`,
      [
        {
          type: 'SiteRegistered',
          data: { siteId: `${tag}-${i}`, name: `Site ${i}`, returnUrls: [`https://s${i}.example/cb`], keyIds: [`k${i}`] },
        },
      ],
    ]);
  let head = 0;
  for (let i = 0; i < work.length; i += 20) {
    const rs = await Promise.all(work.slice(i, i + 20).map(([s, ev]) => store.append(s, ev)));
    head = Math.max(head, ...rs.map((r) => r.position));
  }
  return head;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `probe` until it returns a value (not undefined) or `ms` passes. */
export async function poll<T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined, everyMs = 5): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Boots a broker on `dir` (the boot `broker start` does), waits for its catch-up, stops; returns
 * its log lines. `noPlugins`: only the core read models.
 */
export async function bootOnce(dir: string, opts: { noPlugins?: boolean } = {}): Promise<Record<string, unknown>[]> {
  const { config } = loadConfig({ argv: [], env: { BROKER_DATA_DIR: dir, PORT: '0', HOST: '127.0.0.1' }, cwd: dir });
  if (opts.noPlugins) config.plugins = [];
  const { logs, sink } = logCollector();
  const broker = await bootBroker(config, { logger: pino(brokerLoggerOptions('info'), sink) });
  try {
    await broker.ready();
  } finally {
    await broker.stop();
  }
  return logs;
}
