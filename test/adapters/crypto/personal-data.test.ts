import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { type PersonalDataStore, withPersonalData } from '../../../adapters/crypto/personal-data.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { ChainVerifier, ERASED, SEALED_FIELD, verifyLog, type EventStore, type NewEvent } from '../../../core/index.js';
import pg from 'pg';
import { PG_URL, dropSchema, freshSchema, openPg, pgUnavailable } from '../event-stores/pg-fixture.js';
import { pgRelationFiles } from '../../helpers/pg-files.js';

const WRAP = Buffer.alloc(32, 7);
const EMAIL = 'ada.lovelace@example.org';
const IP = '203.0.113.77';

const registered = (userId: string, email = EMAIL): NewEvent => ({ type: 'UserRegistered', data: { userId, email, name: 'Ada Lovelace' } });
const login = (userId: string, ip = IP): NewEvent => ({
  type: 'LoginSucceeded',
  data: {
    userId,
    sessionId: `s-${userId}`,
    issuer: 'password',
    subject: EMAIL,
    amr: ['pwd'],
    ip,
    userAgent: 'Firefox/140',
    expiresAt: '2030-01-01T00:00:00Z',
    idleTimeoutSeconds: 600,
  },
});

async function raw(store: EventStore) {
  return (store as PersonalDataStore).raw.readAll({ after: 0, limit: 1000 });
}

function suite(name: string, open: () => Promise<{ store: EventStore; close: () => Promise<void> }>) {
  describe(`personal data sealed per user: ${name}`, () => {
    it('writes ciphertext that the hashes cover, reads plaintext, and reads [erased] once the key is destroyed', async () => {
      const { store, close } = await open();
      try {
        await store.append('user-u1', [registered('u1')]);
        await store.append('user-u2', [registered('u2', 'grace@example.org')]);
        await store.append('login-u1', [login('u1')], {});
        await store.append('logins-failed', [
          { type: 'LoginFailed', data: { userId: null, issuer: 'password', subject: 'nobody@example.org', reason: 'unknown', ip: IP } },
        ]);

        const stored = await raw(store);
        const text = JSON.stringify(stored);
        for (const secret of [EMAIL, 'Ada Lovelace', IP, 'Firefox/140', 'nobody@example.org', 'grace@example.org'])
          expect(text).not.toContain(secret);
        expect((stored[0].data as Record<string, unknown>)[SEALED_FIELD]).toMatchObject({ k: 'u:u1', f: ['email', 'name'] });
        const chain = new ChainVerifier();
        for (const e of stored) expect(chain.check(e)).toBeNull();

        const read = await store.readAll();
        expect(read[0].data).toEqual({ userId: 'u1', email: EMAIL, name: 'Ada Lovelace' });
        expect(read[2].data).toMatchObject({ subject: EMAIL, ip: IP, userAgent: 'Firefox/140' });
        expect(read[3].data).toMatchObject({ subject: 'nobody@example.org', ip: IP, userId: null });
        expect((await store.readStream('user-u1'))[0].data).toMatchObject({ email: EMAIL });

        expect(await (store as PersonalDataStore).destroyUserKey('u1')).toBe(true);
        const after = await store.readAll();
        expect(after[0].data).toEqual({ userId: 'u1', email: ERASED, name: ERASED });
        expect(after[2].data).toMatchObject({ subject: ERASED, ip: ERASED, userAgent: ERASED, sessionId: 's-u1' });
        expect(after[1].data).toMatchObject({ email: 'grace@example.org' });
        // A late write about the erased user records nothing personal.
        await store.append('login-u1', [login('u1', '198.51.100.9')]);
        expect(JSON.stringify(await raw(store))).not.toContain('198.51.100.9');
        expect((await store.readStream('login-u1'))[1].data).toMatchObject({ ip: ERASED });
        // The whole log still verifies.
        expect((await verifyLog(store, [])).chain.breaks).toEqual([]);
        expect(await store.dataKeys!.counts()).toMatchObject({ destroyed: 1 });
      } finally {
        await close();
      }
    });

    it('network fields expire with their day key even while the user lives', async () => {
      const { store, close } = await open();
      try {
        await store.append('login-u3', [{ ...login('u3'), metadata: { recordedAt: '2026-01-02T10:00:00.000Z' } }]);
        await store.append('login-u3', [{ ...login('u3', '198.51.100.10'), metadata: { recordedAt: '2026-03-01T10:00:00.000Z' } }]);
        expect(await (store as PersonalDataStore).destroyDayKeysBefore('2026-02-01')).toEqual(['d:2026-01-02']);
        const [old, recent] = await store.readStream('login-u3');
        expect(old.data).toMatchObject({ ip: ERASED, userAgent: ERASED, subject: EMAIL });
        expect(recent.data).toMatchObject({ ip: '198.51.100.10', subject: EMAIL });
      } finally {
        await close();
      }
    });

    it('a subscription opens events in order and forgets an erased user at once', async () => {
      const { store, close } = await open();
      try {
        for (let i = 0; i < 50; i++) await store.append(`user-s${i}`, [registered(`s${i}`, `s${i}@example.org`)]);
        await store.append('user-s0', [{ type: 'UserErased', data: { userId: 's0', actor: 'admin:x' } }]);
        const seen = await firstValueFrom(store.subscribe(0).pipe(take(51), toArray()));
        expect(seen.map((e) => e.position)).toEqual([...seen.map((e) => e.position)].sort((a, b) => a - b));
        expect(seen[10].data).toMatchObject({ email: 's10@example.org' });
        expect(seen[50].type).toBe('UserErased');
        // The subscription destroyed s0's key on seeing the erasure.
        await new Promise((r) => setTimeout(r, 50));
        expect((await store.readStream('user-s0'))[0].data).toMatchObject({ email: ERASED });
      } finally {
        await close();
      }
    });
  });
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

suite('memory', async () => {
  const store = withPersonalData(new MemoryEventStore(), WRAP, { expireNetworkDataInLog: true });
  return { store, close: () => store.close() };
});

suite('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pd-'));
  dirs.push(dir);
  const file = path.join(dir, 'broker.db');
  const store = withPersonalData(await SqliteEventStore.open({ path: file }), WRAP, { expireNetworkDataInLog: true });
  return {
    store,
    close: async () => {
      await store.close();
      // No byte of the erased user's key or data in the file or its WAL.
      const bytes = Buffer.concat(fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f))));
      expect(bytes.includes(Buffer.from(EMAIL))).toBe(false);
      expect(bytes.includes(Buffer.from(IP))).toBe(false);
    },
  };
});

const pgWhy = await pgUnavailable();
if (pgWhy) describe.skip(`personal data: postgres (${pgWhy})`, () => it('needs PostgreSQL', () => {}));
else
  suite('postgres', async () => {
    const schema = freshSchema();
    const store = withPersonalData(await openPg(schema), WRAP, { expireNetworkDataInLog: true });
    return {
      store,
      close: async () => {
        await store.close();
        await dropSchema(schema);
      },
    };
  });

describe.skipIf(!!pgWhy)('personal data: postgres key table', () => {
  it(
    'a key destroyed by a subscription seeing UserErased (crash repair) leaves no copy in the table files either',
    { timeout: 30_000 },
    async () => {
      const schema = freshSchema();
      const store = withPersonalData(await openPg(schema), WRAP);
      try {
        await store.append('user-k1', [registered('k1')]);
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        const wrapped = (await c.query<{ wrapped: Buffer }>(`SELECT wrapped FROM "${schema}".data_keys WHERE id = 'u:k1'`)).rows[0].wrapped;
        const inFiles = async () => {
          for (const f of await pgRelationFiles(schema))
            if (f.relation === 'data_keys' && fs.readFileSync(f.file).includes(wrapped)) return true;
          return false;
        };
        expect(await inFiles()).toBe(true);
        // UserErased recorded and the key left alive: what a crash between the two leaves.
        await store.append('user-k1', [{ type: 'UserErased', data: { userId: 'k1', actor: 'admin:x' } }]);
        const seen = await firstValueFrom(store.subscribe(0).pipe(take(2), toArray()));
        expect(seen[1].type).toBe('UserErased');
        const end = Date.now() + 10_000;
        while (await inFiles()) {
          if (Date.now() > end) throw new Error('the destroyed key is still in the files of data_keys');
          await new Promise((r) => setTimeout(r, 50));
        }
        expect((await c.query(`SELECT wrapped FROM "${schema}".data_keys WHERE id = 'u:k1'`)).rows[0].wrapped).toBeNull();
        await c.end();
      } finally {
        await store.close();
        await dropSchema(schema);
      }
    },
  );
});

describe('personal data: network fields by default', () => {
  it("a known user's IP is sealed with the rest under their key alone: it goes with the user, not with the day", async () => {
    const store = withPersonalData(new MemoryEventStore(), WRAP) as PersonalDataStore;
    await store.append('login-u9', [{ ...login('u9'), metadata: { recordedAt: '2026-01-02T10:00:00.000Z' } }]);
    expect(await store.dataKeys.counts()).toEqual({ live: 1, destroyed: 0 }); // no day key was needed
    expect(await store.destroyDayKeysBefore('2026-02-01')).toEqual([]);
    expect((await store.readStream('login-u9'))[0].data).toMatchObject({ ip: IP });
    await store.destroyUserKey('u9');
    expect((await store.readStream('login-u9'))[0].data).toMatchObject({ ip: ERASED, userAgent: ERASED, subject: ERASED });
  });
});
