/**
 * Issue 15: a broker restarted on a log that grew by 50k events listens at once; while its
 * projections catch up, /readyz answers 503 with how far they are (position, head), /healthz 200,
 * and every other route 503; once caught up, /readyz and the other routes answer. A SIGTERM during
 * a rebuild stops it at once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { bootBroker } from '../../../adapters/kernel/boot.js';
import { loadConfig } from '../../../config/load.js';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { answering, spawnBroker, type BrokerProcess } from './broker-process.js';
import { dumpFile, poll, seedLog } from './read-fixture.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readyz-catch-up-'));
const running: BrokerProcess[] = [];
afterAll(async () => {
  for (const b of running) if (b.child.exitCode === null) await b.kill9();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('/readyz answers 503 with the lag while 50k events are applied, /healthz 200, other routes 503', { timeout: 60_000 }, async () => {
  // A first start (in this process: it only leaves its files) creates the log and the read
  // database, checkpoints at the head, then stops.
  const { config } = loadConfig({ argv: [], env: { BROKER_DATA_DIR: dir, PORT: '0', HOST: '127.0.0.1' }, cwd: dir });
  config.log.level = 'silent';
  const first = await bootBroker(config);
  await first.ready();
  await first.stop();

  // 50k events appended while no broker runs.
  const store = await SqliteEventStore.open({ path: path.join(dir, 'broker.db'), synchronous: 'NORMAL' });
  const head = await seedLog(store, 50_000);
  await store.close();
  expect(head).toBeGreaterThan(50_000);

  const b = await spawnBroker(dir);
  running.push(b);
  await answering(b);
  const lagging: { position: number; head: number }[] = [];
  let healthDuring = 0;
  const healthFailed: number[][] = [];
  let otherDuring: { status: number; retryAfter: string | null } | null = null;
  await poll(
    '/readyz to answer 200',
    45_000,
    async () => {
      const r = await b.get('/readyz');
      if (r.status === 200) return r.body as { position: number; head: number };
      expect(r.status).toBe(503);
      lagging.push(r.body as { position: number; head: number });
      // While behind: liveness still 200, any other route 503 with a retry-after.
      // A probe may carry a query string (a cache-buster): still the liveness route.
      const health = [(await b.get('/healthz')).status, (await b.get('/healthz?probe=liveness')).status];
      if (health.every((st) => st === 200)) healthDuring++;
      else healthFailed.push(health);
      if (!otherDuring) {
        const o = await b.get('/login');
        if ((await b.get('/readyz')).status === 503) otherDuring = { status: o.status, retryAfter: o.headers.get('retry-after') };
      }
      return undefined;
    },
    2,
  );
  // The last 503s may come after the catch-up (signing keys, sites), with position = head.
  const behind = lagging.filter((l) => l.position < head);
  expect(behind.length, 'at least one /readyz answer while the projections catch up').toBeGreaterThan(0);
  for (const l of lagging) expect(l.head).toBeGreaterThanOrEqual(head); // a start records a few events of its own
  for (let i = 1; i < lagging.length; i++) expect(lagging[i].position).toBeGreaterThanOrEqual(lagging[i - 1].position);
  console.info(
    `/readyz answered 503 ${lagging.length} times while catching up (positions ${behind[0].position} .. ${behind.at(-1)!.position} of ${head})`,
  );
  expect(healthFailed, '/healthz answers other than 200 during the catch-up').toEqual([]);
  expect(healthDuring).toBeGreaterThan(0);
  expect(otherDuring).toEqual({ status: 503, retryAfter: '1' });
  const after = (await b.get('/readyz')).body as { status: string; position: number; head: number };
  expect(after.status).toBe('ready');
  expect(after.position).toBe(after.head);
  expect((await b.get('/login')).status).not.toBe(503);
  await b.stop();
});

it('SIGTERM while the projections rebuild stops the broker there, not after the rebuild', { timeout: 60_000 }, async () => {
  // Every projection of another version: the next start rebuilds all ~50k events.
  const db = new Database(path.join(dir, 'broker.read.db'));
  db.prepare('UPDATE projection_checkpoints SET version = version + 1').run();
  db.close();
  const head = await (async () => {
    const store = await SqliteEventStore.open({ path: path.join(dir, 'broker.db') });
    try {
      return await store.headPosition();
    } finally {
      await store.close();
    }
  })();

  const b = await spawnBroker(dir);
  running.push(b);
  await answering(b);
  await poll(
    'the rebuild under way',
    30_000,
    async () => {
      const r = await b.get('/readyz');
      if (r.status === 200) throw new Error('rebuilt before the signal');
      return r.body.position > 0 && r.body.position < head / 2 ? true : undefined;
    },
    2,
  );
  await b.stop(); // SIGTERM, and a clean exit (code 0) within the bound
  expect(await b.exited).toBe(0);
  expect(b.output).toMatch(/SIGTERM: stopping[\s\S]*stopped/);
  // It stopped mid-rebuild: the checkpoints are short of the head, and what was applied is kept.
  const { checkpoints } = dumpFile(path.join(dir, 'broker.read.db'));
  expect(checkpoints.users.position).toBeGreaterThan(0);
  expect(checkpoints.users.position).toBeLessThan(head);
});
