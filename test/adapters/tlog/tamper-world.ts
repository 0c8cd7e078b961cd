/**
 * A log to tamper with, on a real SQLite file or a real PostgreSQL schema, and the plain SQL an
 * attacker with write access to the database would run on it after the fact.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { eventHash, treeRoot, type EventStore, type NewEvent, type RecordedEvent, type RootClaim } from '../../../core/index.js';
import { PG_URL, dropSchema, freshSchema, openPg } from '../event-stores/pg-fixture.js';

export interface TamperBackend {
  name: string;
  open(): Promise<EventStore>;
  /** Runs SQL with `T` standing for the events table (schema-qualified on PostgreSQL). */
  sql(text: string): Promise<void>;
  table(name: string): string;
  cleanup(): Promise<void>;
}

export function sqliteBackend(): TamperBackend {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlog-tamper-'));
  const file = path.join(dir, 'events.db');
  return {
    name: 'sqlite',
    open: () => SqliteEventStore.open({ path: file, synchronous: 'NORMAL' }),
    async sql(text) {
      const db = new Database(file);
      try {
        db.exec(text);
      } finally {
        db.close();
      }
    },
    table: (name) => name,
    cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export function pgBackend(): TamperBackend {
  const schema = freshSchema();
  return {
    name: 'postgres',
    open: () => openPg(schema),
    async sql(text) {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        await c.query(text);
      } finally {
        await c.end();
      }
    },
    table: (name) => `"${schema}".${name}`,
    cleanup: () => dropSchema(schema),
  };
}

export const q = (v: string): string => `'${v.replace(/'/g, "''")}'`;

const userEvents = (u: string): NewEvent[] => [
  { type: 'UserRegistered', data: { userId: u, email: `${u}@example.test` } },
  { type: 'AccountEnabled', data: { userId: u } },
  { type: 'UserBanned', data: { userId: u, reason: 'abuse', actor: 'admin' } },
];

/** Twelve users appended in interleaved order (3 events each, the ban last in its stream). */
export async function writeLog(store: EventStore): Promise<RecordedEvent[]> {
  for (let round = 0; round < 3; round++) {
    for (let u = 0; u < 12; u++) await store.append(`user-u${u}`, [userEvents(`u${u}`)[round]]);
  }
  // PostgreSQL shows a committed row once every older transaction in the cluster has ended (other
  // test files run beside this one): read until all 36 are visible, within a bound.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const all = await store.readAll({ limit: 1000 });
    if (all.length === 36 || Date.now() > deadline) return all;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The checkpoint an auditor kept: the tree's size and root right after the log was written. */
export async function keptClaim(store: EventStore): Promise<RootClaim> {
  const size = await store.tree!.size();
  return { label: 'the kept checkpoint', size, root: await treeRoot(store.tree!, size) };
}

/** Rewrites a stream from `fromRevision` with new data and recomputed hashes, by plain UPDATEs. */
export function rewriteStreamSql(b: TamperBackend, events: RecordedEvent[], streamId: string, fromRevision: number): string {
  const stream = events.filter((e) => e.streamId === streamId).sort((a, b2) => a.revision - b2.revision);
  let prev = stream[fromRevision - 1]?.hash ?? '';
  const out: string[] = [];
  for (const e of stream.slice(fromRevision)) {
    const data = e.revision === fromRevision ? { ...(e.data as object), reason: 'nothing happened' } : e.data;
    const hash = eventHash({ ...e, data, prevHash: prev });
    out.push(
      `UPDATE ${b.table('events')} SET data = ${q(JSON.stringify(data))}, prev_hash = ${q(prev)}, hash = ${q(hash)} WHERE position = ${e.position};`,
    );
    prev = hash;
  }
  return out.join('\n');
}
