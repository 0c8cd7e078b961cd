import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ChainVerifier, sealEvents, type EventStore, type NewEvent, type RecordedEvent } from '../../../core/index.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { BrokenLog, TargetDiffers, copyEvents, type CopyProgress } from '../../../adapters/event-stores/copy.js';
import { ROOT, runCli } from '../cli/run-cli.js';
import { withPersonalData } from '../../../adapters/crypto/personal-data.js';
import { until } from './contract.js';
import { PG_URL, dropSchema, freshSchema, openPg, pgUnavailable } from './pg-fixture.js';

const unavailable = await pgUnavailable();

async function readAllOf(store: EventStore): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for (let after = 0; ;) {
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
    const events: NewEvent[] = [
      { type: 'AccountEnabled', data: { userId: s }, metadata: { actor: `admin:${i}`, ip: '203.0.113.1' } } as NewEvent,
    ];
    if (i % 10 === 0) events.push({ type: 'PluginThing', version: 4, data: { n: i, nested: { s: 'ü\u0000' } } } as unknown as NewEvent);
    await store.append(s, events);
  }
}

/** A large log, fast: chained envelopes written by the store's bulk import, 1,000 at a time. */
async function bigLog(store: EventStore, n: number): Promise<void> {
  const heads = new Map<string, { revision: number; hash: string }>();
  for (let done = 0; done < n;) {
    const batch: RecordedEvent[] = [];
    for (; batch.length < 1000 && done < n; done++) {
      const s = `user-${done % 997}`;
      const h = heads.get(s) ?? { revision: -1, hash: '' };
      const [e] = sealEvents(
        s,
        [{ type: 'AccountEnabled', data: { userId: s }, metadata: { actor: 'admin:1', ip: '203.0.113.1' } } as NewEvent],
        h.revision,
        h.hash,
        1,
      );
      heads.set(s, { revision: e.revision, hash: e.hash });
      batch.push(e);
    }
    await store.importEvents!(batch);
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
    const next = await target.append('user-3', [{ type: 'AccountDisabled', data: { userId: 'user-3', reason: 'x' } } as NewEvent], {
      expectedRevision: source.filter((e) => e.streamId === 'user-3').length - 1,
    });
    expect(next.events[0].prevHash).toBe(source.filter((e) => e.streamId === 'user-3').at(-1)!.hash);

    const back = await SqliteEventStore.open({ path: path.join(dir, 'back.db'), synchronous: 'NORMAL' });
    await copyEvents(target, back);
    expect((await readAllOf(back)).map(strip)).toEqual([...copied, next.events[0]].map(strip));
    await Promise.all([sqlite.close(), target.close(), back.close()]);
  });

  it('stops at an edited event: only events verified before its batch reach the target', async () => {
    const source = await pgStore();
    await fillLog(source);
    // Someone edits one event in the database behind the broker's back.
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`UPDATE "${source.schema}".events SET data = '{"userId":"mallory"}' WHERE stream_id = 'user-5' AND revision = 3`);
    await admin.end();
    const all = await readAllOf(source);
    const edited = all.findIndex((e) => e.streamId === 'user-5' && e.revision === 3);
    for (const [maxBatch, written] of [
      [5000, 0],
      [20, Math.floor(edited / 20) * 20],
    ]) {
      const target = new MemoryEventStore();
      const err = await copyEvents(source, target, { maxBatch }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BrokenLog);
      expect((err as BrokenLog).breaks[0]).toMatchObject({ streamId: 'user-5', revision: 3, problem: 'hash_mismatch' });
      const got = await readAllOf(target);
      expect(got.map((e) => e.id)).toEqual(all.slice(0, written).map((e) => e.id));
    }
    await source.close();
  });

  it('refuses a target that holds events of another log', async () => {
    const source = new MemoryEventStore();
    await fillLog(source);
    const target = await pgStore();
    await target.append('other', [{ type: 'AccountEnabled', data: { userId: 'x' } } as NewEvent]);
    await expect(copyEvents(source, target)).rejects.toBeInstanceOf(TargetDiffers);
    expect(await target.readStream('user-1')).toEqual([]);
    await target.close();
  });

  it('resumes into an earlier copy of the first events, and refuses one whose last event was edited', async () => {
    const source = new MemoryEventStore();
    await fillLog(source);
    const all = await readAllOf(source);
    const target = await pgStore();
    await target.importEvents(all.slice(0, 120));
    const r = await copyEvents(source, target, { maxBatch: 50 });
    expect(r).toMatchObject({ copied: all.length - 120, resumedAfter: 120 });
    expect((await readAllOf(target)).map(strip)).toEqual(all.map(strip));
    // Someone edits the copy's last event behind its back: a further run refuses it.
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(
      `UPDATE "${target.schema}".events SET data = '{"userId":"mallory"}' WHERE position = (SELECT max(position) FROM "${target.schema}".events)`,
    );
    await admin.end();
    await source.append('user-1', [{ type: 'AccountEnabled', data: { userId: 'user-1' } } as NewEvent]);
    await expect(copyEvents(source, target)).rejects.toMatchObject({ name: 'TargetDiffers', message: /was edited/ });
    expect(await target.headPosition()).toBe(all.length);
    await target.close();
  });

  it('broker events copy killed mid-way: a second run checks the target and continues from its head', async () => {
    const file = path.join(dir, 'big.db');
    const sqlite = await SqliteEventStore.open({ path: file, synchronous: 'NORMAL' });
    const total = 60_000;
    await bigLog(sqlite, total);
    await sqlite.close();
    const schema = freshSchema();
    schemas.push(schema);
    const to = `${PG_URL}?schema=${schema}`;
    const target = await openPg(schema);
    const child = spawn(
      process.execPath,
      ['--import', './adapters/cli/ts-register.mjs', 'adapters/cli/main.ts', 'events', 'copy', '--from', `sqlite:${file}`, '--to', to],
      { cwd: ROOT, stdio: 'ignore' },
    );
    let exited = false;
    child.on('exit', () => (exited = true));
    let head = 0;
    try {
      // Killed once the first batches have landed, with more still to come.
      const poll = setInterval(
        () =>
          void target.headPosition().then(
            (h) => (head = h),
            () => {},
          ),
        5,
      );
      try {
        await until(() => head > 0 || exited, 'the first imported batch', 60_000);
      } finally {
        clearInterval(poll);
      }
      child.kill('SIGKILL');
      await until(() => exited, 'the killed copy to exit');
    } finally {
      if (!exited) child.kill('SIGKILL');
    }
    const left = await target.headPosition();
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(total);
    const again = await runCli(['events', 'copy', '--from', `sqlite:${file}`, '--to', to], {});
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    const copiedNow = Number(/copied (\d+) events after the (\d+)/.exec(again.stdout)![1]);
    expect(copiedNow).toBe(total - Number(/after the (\d+)/.exec(again.stdout)![1]));
    const events = await readAllOf(target);
    expect(events).toHaveLength(total);
    const source = await SqliteEventStore.open({ path: file });
    expect(events.map(strip)).toEqual((await readAllOf(source)).map(strip));
    await source.close();
    const v = new ChainVerifier();
    for (const e of events) v.check(e);
    expect(v.breaks).toEqual([]);
    await target.close();
  }, 120_000);

  it('broker events copy --from sqlite:<file> --to postgres://…?schema=… copies as an operator would; a second run finds nothing to add', async () => {
    const file = path.join(dir, 'cli.db');
    const sqlite = await SqliteEventStore.open({ path: file, synchronous: 'NORMAL' });
    await fillLog(sqlite);
    // A user whose email is sealed under their data key (issue 19): the key goes along with the log.
    const wrap = Buffer.alloc(32, 3);
    await withPersonalData(sqlite, wrap).append('user-sealed', [
      { type: 'UserRegistered', data: { userId: 'sealed', email: 'sealed@example.org', name: 'Sealed' } },
    ]);
    const source = await readAllOf(sqlite);
    await sqlite.close();
    const schema = freshSchema();
    schemas.push(schema);
    const to = `${PG_URL}?schema=${schema}`;
    const run = await runCli(['events', 'copy', '--from', `sqlite:${file}`, '--to', to], {});
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(`copied ${source.length} events in 18 streams and 1 data key\\(s\\) .* every hash chain verified`),
    );
    const target = await openPg(schema);
    expect((await readAllOf(target)).map(strip)).toEqual(source.map(strip));
    expect((await withPersonalData(target, wrap).readStream('user-sealed'))[0].data).toMatchObject({ email: 'sealed@example.org' });
    await target.close();
    const again = await runCli(['events', 'copy', '--from', `sqlite:${file}`, '--to', to], {});
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`copied 0 events after the ${source.length} an earlier copy left there`));
  });
});
