// Part (5) of `npm run bench -- store`: what sealing personal fields per user costs (issue 19),
// sealed beside in clear on the same SQLite store code in the same run, rounds interleaved.
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { withPersonalData } from '../adapters/crypto/personal-data.js';
import { SqliteEventStore } from '../adapters/event-stores/sqlite.js';
import { Users, type EventStore } from '../core/index.js';
import { generateLog, measureReplay, type Rate } from './_store-measure.js';

const rate = (count: number, ms: number): Rate => ({ count, ms, perSec: (count * 1000) / ms });
const key = randomBytes(32);
let files = 0;

async function open(dir: string, sealed: boolean, name?: string): Promise<EventStore> {
  const raw = await SqliteEventStore.open({ path: path.join(dir, name ?? `personal-${files++}.db`), synchronous: 'FULL' });
  return sealed ? withPersonalData(raw, key) : raw;
}

/** Durable registrations through Users (email reservation + UserRegistered), 50 callers. */
async function registrations(store: EventStore, n: number): Promise<Rate> {
  const users = new Users(store, undefined, key);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < n) {
        const i = next++;
        await users.register({ email: `p${i}-${randomUUID().slice(0, 6)}@example.com`, name: `Person ${i}` }, { actor: 'bench' });
      }
    }),
  );
  return rate(n, performance.now() - t0);
}

/**
 * Durable logins of known users (their data keys exist, as after registration): one LoginSucceeded
 * (subject, IP, user agent) per append, `no_stream`, 50 callers. A first, untimed login per user
 * makes the keys; a user's first event is the registrations row's cost.
 */
async function logins(store: EventStore, n: number): Promise<Rate> {
  await loginLoop(store, 2000);
  return loginLoop(store, n);
}

async function loginLoop(store: EventStore, n: number): Promise<Rate> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < n) {
        const i = next++;
        const userId = `user-${i % 2000}`;
        const sessionId = randomUUID();
        await store.append(
          `session-${sessionId}`,
          [
            {
              type: 'LoginSucceeded',
              data: {
                userId,
                sessionId,
                issuer: 'https://idp.example.com',
                subject: `sub-${i % 2000}`,
                amr: ['pwd'],
                ip: '203.0.113.7',
                userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
                expiresAt: '2030-01-01T00:00:00.000Z',
                idleTimeoutSeconds: 1800,
              },
              metadata: { actor: `user:${userId}` },
            },
          ],
          { expectedRevision: 'no_stream' },
        );
      }
    }),
  );
  return rate(n, performance.now() - t0);
}

/** Every event of the log read in pages (opened when the store seals). */
async function readAll(store: EventStore): Promise<Rate> {
  const t0 = performance.now();
  let n = 0;
  for (let after = 0; ;) {
    const page = await store.readAll({ after, limit: 5000 });
    n += page.length;
    if (page.length < 5000) break;
    after = page[page.length - 1].position;
  }
  return rate(n, performance.now() - t0);
}

const mean = (rs: Rate[]): Rate =>
  rate(
    rs.reduce((a, r) => a + r.count, 0),
    rs.reduce((a, r) => a + r.ms, 0),
  );

/** Rows: [what, sealed, in clear, target]. */
export async function measurePersonalData(dir: string, logEvents: number): Promise<[string, Rate, Rate, string][]> {
  const out: [string, Rate, Rate, string][] = [];
  const interleaved = async (what: string, target: string, f: (s: EventStore) => Promise<Rate>): Promise<void> => {
    const sealed: Rate[] = [];
    const plain: Rate[] = [];
    for (let round = 0; round < 4; round++) {
      for (const seal of round % 2 ? [false, true] : [true, false]) {
        const store = await open(dir, seal);
        (seal ? sealed : plain).push(await f(store));
        await store.close();
      }
    }
    out.push([what, mean(sealed), mean(plain), target]);
    console.error(`  ${what}: sealed ${Math.round(mean(sealed).perSec)}/s, in clear ${Math.round(mean(plain).perSec)}/s`);
  };
  await interleaved('sealed vs clear: registrations (reservation + UserRegistered), 50 callers, FULL', '≥ 0.90×', (s) =>
    registrations(s, 3000),
  );
  await interleaved('sealed vs clear: logins of known users (LoginSucceeded, own stream), 50 callers, FULL', '≥ 0.90×', (s) =>
    logins(s, 6000),
  );

  // One log of each kind, written the same way; read back by fresh stores (cold key cache).
  for (const seal of [true, false]) {
    const store = await open(dir, seal, seal ? 'log-sealed.db' : 'log-plain.db');
    await generateLog(store, logEvents);
    await store.close();
  }
  const reads: Record<string, Rate[]> = { sealed: [], plain: [] };
  const replays: Record<string, Rate[]> = { sealed: [], plain: [] };
  for (let round = 0; round < 2; round++) {
    for (const seal of round % 2 ? [false, true] : [true, false]) {
      const store = await open(dir, seal, seal ? 'log-sealed.db' : 'log-plain.db');
      reads[seal ? 'sealed' : 'plain'].push(await readAll(store));
      await store.close();
      const again = await open(dir, seal, seal ? 'log-sealed.db' : 'log-plain.db');
      replays[seal ? 'sealed' : 'plain'].push(await measureReplay(again));
      await again.close();
    }
  }
  out.push([
    `sealed vs clear: read the whole log (${logEvents.toLocaleString('en-US')} events), opened`,
    mean(reads.sealed),
    mean(reads.plain),
    '≥ 150,000 ev/s',
  ]);
  out.push(['sealed vs clear: replay into the core read models', mean(replays.sealed), mean(replays.plain), '']);
  return out;
}
