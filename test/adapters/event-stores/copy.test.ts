import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ChainVerifier, type EventStore, type NewEvent, type RecordedEvent } from '../../../core/index.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { BrokenLog, TargetNotEmpty, copyEvents, type CopyProgress } from '../../../adapters/event-stores/copy.js';
import { runCli } from '../cli/run-cli.js';
import { PG_URL, dropSchema, freshSchema, openPg, pgUnavailable } from './pg-fixture.js';

const unavailable = await pgUnavailable();

async function readAllOf(store: EventStore): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for (let after = 0; ; ) {
    const page = await store.readAll({ after, limit: 1000 });
    out.push(...page);
    if (page.length < 1000) return out;
    after = page[page.length - 1].position;
  }
}

/** A log with several interleaved streams, multi-event appends, a plugin's unknown event type and rich metadata. */
async function fillLog(store: EventStore): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const s = `user-${i % 17}`;
    const events: NewEvent[] = [{ type: 'AccountEnabled', data: { userId: s }, metadata: { actor: `admin:${i}`, ip: '203.0.113.1' } } as NewEvent];
    if (i % 10 === 0) events.push({ type: 'PluginThing', version: 4, data: { n: i, nested: { s: 'ü\u0000' } } } as unknown as NewEvent);
    await store.append(s, events);
  }
}

const strip = (e: RecordedEvent) => ({ ...e, position: 0 });

describe.skipIf(unavailable !== null)('copyEvents (broker events copy)', () => {
  const schemas: string[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-copy-'));
  afterAll(async () => {
    for (const s of schemas) await dropSchema(s);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const pgStore = async () => {
    const s = freshSchema();
    schemas.push(s);
    return openPg(s);
  };

  it('moves the embedded SQLite log to PostgreSQL and back: same events, same hashes, chains verify', async () => {
    const sqlite = await SqliteEventStore.open({ path: path.join(dir, 'from.db'), synchronous: 'NORMAL' });
    await fillLog(sqlite);
    const source = await readAllOf(sqlite);
    const target = await pgStore();
    const progress: CopyProgress[] = [];
    const r = await copyEvents(sqlite, target, { onProgress: (p) => progress.push(p), pageSize: 100 });
    expect(r.copied).toBe(source.length);
    expect(r.streams).toBe(17);
    expect(progress.some((p) => p.phase === 'verify')).toBe(true);
    expect(progress[progress.length - 1]).toEqual({ phase: 'copy', done: source.length, total: source.length });
    const copied = await readAllOf(target);
    expect(copied.map(strip)).toEqual(source.map(strip));
    const v = new ChainVerifier();
    for (const e of copied) v.check(e);
    expect(v.breaks).toEqual([]);
    // The copy keeps appending on the chain it received.
    const next = await target.append('user-3', [{ type: 'AccountDisabled', data: { userId: 'user-3', reason: 'x' } } as NewEvent], { expectedRevision: source.filter((e) => e.streamId === 'user-3').length - 1 });
    expect(next.events[0].prevHash).toBe(source.filter((e) => e.streamId === 'user-3').at(-1)!.hash);

    const back = await SqliteEventStore.open({ path: path.join(dir, 'back.db'), synchronous: 'NORMAL' });
    await copyEvents(target, back);
    expect((await readAllOf(back)).map(strip)).toEqual([...copied, next.events[0]].map(strip));
    await Promise.all([sqlite.close(), target.close(), back.close()]);
  });

  it('refuses an edited log before writing anything', async () => {
    const source = await pgStore();
    await fillLog(source);
    // Someone edits one event in the database behind the broker's back.
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`UPDATE "${source.schema}".events SET data = '{"userId":"mallory"}' WHERE stream_id = 'user-5' AND revision = 3`);
    await admin.end();
    const target = new MemoryEventStore();
    const err = await copyEvents(source, target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokenLog);
    expect((err as BrokenLog).breaks[0]).toMatchObject({ streamId: 'user-5', revision: 3, problem: 'hash_mismatch' });
    expect(await target.headPosition()).toBe(0);
    await source.close();
  });

  it('refuses a target that already holds events', async () => {
    const source = new MemoryEventStore();
    await fillLog(source);
    const target = await pgStore();
    await target.append('other', [{ type: 'AccountEnabled', data: { userId: 'x' } } as NewEvent]);
    await expect(copyEvents(source, target)).rejects.toBeInstanceOf(TargetNotEmpty);
    expect(await target.readStream('user-1')).toEqual([]);
    await target.close();
  });

  it('broker events copy --from sqlite:<file> --to postgres://…?schema=… copies as an operator would, and refuses to copy twice', async () => {
    const file = path.join(dir, 'cli.db');
    const sqlite = await SqliteEventStore.open({ path: file, synchronous: 'NORMAL' });
    await fillLog(sqlite);
    const source = await readAllOf(sqlite);
    await sqlite.close();
    const schema = freshSchema();
    schemas.push(schema);
    const to = `${PG_URL}?schema=${schema}`;
    const run = await runCli(['events', 'copy', '--from', `sqlite:${file}`, '--to', to], {});
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`copied ${source.length} events in 17 streams .* every hash chain verified`));
    const target = await openPg(schema);
    expect((await readAllOf(target)).map(strip)).toEqual(source.map(strip));
    await target.close();
    const again = await runCli(['events', 'copy', '--from', `sqlite:${file}`, '--to', to], {});
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/target store is not empty/);
  });
});
