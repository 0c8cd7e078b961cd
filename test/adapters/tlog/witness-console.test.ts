import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { NoteSigner, openNote, parseCheckpoint, parseVerifierKey, splitNote, verifyConsistency } from '../../../core/index.js';
import { startBroker, TEST_ARGON2, waitUntil, type TestBroker } from '../../helpers/broker.js';
import { adminLogin, bootstrapAdmin } from '../../plugins/admin/setup-flow.js';

/**
 * A witness speaking C2SP tlog-witness `add-checkpoint` over real HTTP: it checks the broker's
 * signature, that the old size is the one it cosigned last (else 409 with its size) and the
 * consistency proof (else 422), then answers with its cosignature line.
 */
function startWitness(brokerKey: () => Promise<string>) {
  const me = new NoteSigner('witness.example/w1', Buffer.alloc(32, 9));
  const state = { size: 0, root: Buffer.alloc(0), requests: [] as string[] };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      void (async () => {
        state.requests.push(body);
        const m = /^old (\d+)\n((?:[A-Za-z0-9+/=]+\n)*)\n([\s\S]*)$/.exec(body);
        if (req.url !== '/w1/add-checkpoint' || !m) return res.writeHead(400).end();
        const text = openNote(m[3], parseVerifierKey(await brokerKey()));
        if (!text) return res.writeHead(403).end();
        const cp = parseCheckpoint(text);
        const old = Number(m[1]);
        if (old !== state.size) return res.writeHead(409, { 'content-type': 'text/x.tlog.size' }).end(`${state.size}\n`);
        const proof = m[2]
          .split('\n')
          .filter(Boolean)
          .map((l) => Buffer.from(l, 'base64'));
        if (old > 0 && !verifyConsistency(old, cp.size, proof, state.root, cp.root)) return res.writeHead(422).end();
        Object.assign(state, { size: cp.size, root: cp.root });
        const cosigned = splitNote(me.sign(text)).signatures[0];
        res.writeHead(200).end(`\u2014 ${me.name} ${Buffer.concat([cosigned.keyId, cosigned.sig]).toString('base64')}\n`);
      })();
    });
  });
  return new Promise<{ url: string; state: typeof state; close(): Promise<void> }>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/w1`,
        state,
        close: () => new Promise((r) => server.close(() => r())),
      }),
    ),
  );
}

describe('checkpoints pushed to witnesses, and the console screen', () => {
  let t: TestBroker;
  let dir: string;
  let witness: Awaited<ReturnType<typeof startWitness>>;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlog-witness-'));
    let brokerUrl = '';
    witness = await startWitness(async () => (await (await fetch(`${brokerUrl}/.well-known/broker-log/key`)).text()).trim());
    t = await startBroker({
      store: await SqliteEventStore.open({ path: path.join(dir, 'broker.db') }),
      logLevel: 'warn',
      plugins: [
        { name: 'password-login', config: { argon2: TEST_ARGON2 } },
        { name: 'admin', config: { argon2: TEST_ARGON2, setup: { printToStdout: false } } },
      ],
      config: {
        transparency: {
          everyEvents: 1,
          everySeconds: 3600,
          witnesses: [
            { name: 'w1', url: witness.url },
            { name: 'down', url: 'http://127.0.0.1:9/nothing' },
          ],
        },
      },
    });
    brokerUrl = t.url;
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    await witness?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(
    'pushes each checkpoint with a consistency proof from the last cosigned one; the console shows both answers',
    { timeout: 60_000 },
    async () => {
      const creds = await bootstrapAdmin(t);
      await waitUntil(() => witness.state.size > 0, 10_000, 'a first cosigned checkpoint');
      const first = witness.state.size;
      const admin = await adminLogin(t, creds); // more events: the next checkpoint extends the first
      await waitUntil(() => witness.state.size > first, 10_000, 'a second cosigned checkpoint');
      expect(witness.state.requests.some((r) => r.startsWith(`old ${first}\n`) && r.split('\n\n')[0].split('\n').length > 1)).toBe(true);

      const published = await (await fetch(`${t.url}/.well-known/broker-log/checkpoint`)).text();
      const size = parseCheckpoint(published.slice(0, published.indexOf('\n\n') + 1)).size;
      await waitUntil(async () => (await t.broker.store.tree!.witnessAcks(size)).length === 2, 10_000, 'both witnesses answered');

      const page = await admin.get('/admin/transparency');
      expect(page.res.status).toBe(200);
      expect(page.body).toContain(`data-testid="checkpoint-size">${size}<`);
      expect(page.body).toMatch(new RegExp(`data-witness="w1" data-size="${size}">[\\s\\S]*?cosigned[\\s\\S]*?\u2014 witness.example/w1 `));
      expect(page.body).toMatch(/data-witness="down"[^>]*>[\s\S]*?refused/);
      expect(page.body).toContain('aria-current="page">Transparency');
      const anonymous = await fetch(`${t.url}/admin/transparency`, { redirect: 'manual' });
      expect(anonymous.status).not.toBe(200);
    },
  );
});
