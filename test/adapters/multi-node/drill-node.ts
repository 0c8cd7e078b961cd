/**
 * A broker node of the cluster drill (drill.test.ts) in its own OS process: PostgreSQL store, the
 * ban-broadcast plugin with the drill's sites, listening on a free port (the test probes /readyz
 * and /metrics over HTTP), driven over IPC like node-process.ts.
 * argv[2]: JSON { url, schema, name, sites: {id,url,secret}[], leaseMs }.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootBroker } from '../../../adapters/kernel/boot.js';
import type { BrokerConfig } from '../../../config/types.js';

const { url, schema, name, sites, leaseMs } = JSON.parse(process.argv[2]) as {
  url: string;
  schema: string;
  name: string;
  sites: { id: string; url: string; secret: string }[];
  leaseMs: number;
};
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `broker-drill-${name}-`));
const config: BrokerConfig = {
  server: { host: '127.0.0.1', port: 0, baseUrl: 'http://127.0.0.1', trustProxy: false, insecureCookies: true },
  dataDir,
  store: { kind: 'postgres', url, schema, poolMax: 4 },
  secrets: { masterKey: 'cluster-drill-master-key-0123456789abc' },
  session: { absoluteSeconds: 3600, idleSeconds: 600 },
  log: { level: 'silent' },
  admin: { apiTokens: [] },
  sites: sites.map((s) => ({ id: s.id, name: s.id, returnUrls: [], webhook: { url: s.url, secret: s.secret } })),
  sitesRevision: 1,
  cluster: { nodeId: name },
  plugins: [
    {
      name: 'ban-broadcast',
      config: {
        timeoutMs: 2000,
        concurrency: 8,
        leaseMs,
        retry: { initialDelayMs: 100, maxDelayMs: 300, horizonMs: 120_000 },
        allowPrivateAddresses: ['127.0.0.1'],
      },
    },
  ],
};
const broker = await bootBroker(config);
const listening = await broker.listen();

type Msg = { id: number; op: string; args: Record<string, unknown> };
const ops: Record<string, (a: Record<string, unknown>) => Promise<unknown>> = {
  async url() {
    return { url: listening };
  },
  /** Registers a user and bans them; resolves once the ban is committed (acknowledged). */
  async ban(a) {
    const { userId } = await broker.users.register({ email: a.email as string }, { actor: `test:${name}` });
    const r = await broker.users.execute(
      userId,
      { type: 'ban', reason: `drill ${name}`, actor: `admin:${name}` },
      { actor: `admin:${name}` },
    );
    return { userId, eventId: r.events[0].id, position: r.position };
  },
  /** A session for a new user on this node (the bench bans it elsewhere and watches here). */
  async login(a) {
    const { userId } = await broker.users.register({ email: a.email as string }, { actor: `test:${name}` });
    const out = await broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] } as never);
    return { userId, sessionToken: out.sessionToken };
  },
  async banUser(a) {
    const t0 = performance.timeOrigin + performance.now();
    const r = await broker.users.execute(
      a.userId as string,
      { type: 'ban', reason: `drill ${name}`, actor: `admin:${name}` },
      { actor: `admin:${name}` },
    );
    return { t0, eventId: r.events[0].id };
  },
  /** The moment (epoch ms, sub-ms) this node first refuses the session, polled every millisecond. */
  async watchRefusal(a) {
    const deadline = Date.now() + ((a.timeoutMs as number) ?? 10_000);
    for (;;) {
      if (broker.login.validateSession(a.token as string) === null) return { at: performance.timeOrigin + performance.now() };
      if (Date.now() > deadline) throw new Error(`node ${name} still accepts the session`);
      await new Promise((r) => setTimeout(r, 1));
    }
  },
  /** Durable commands for `ms`: register + ban, `concurrency` at a time; returns how many committed. */
  async throughput(a) {
    const end = Date.now() + (a.ms as number);
    let done = 0;
    let n = 0;
    await Promise.all(
      Array.from({ length: (a.concurrency as number) ?? 8 }, async () => {
        while (Date.now() < end) {
          const { userId } = await broker.users.register(
            { email: `tp-${name}-${n++}-${Math.random().toString(36).slice(2)}@example.com` },
            { actor: `test:${name}` },
          );
          await broker.users.execute(userId, { type: 'disable', reason: 'bench' }, { actor: `admin:${name}` });
          done += 2;
        }
      }),
    );
    return { commands: done };
  },
  async stop() {
    await broker.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    setImmediate(() => process.exit(0));
    return {};
  },
};

process.on('message', (m: Msg) => {
  const op = ops[m.op];
  (op ? op(m.args ?? {}) : Promise.reject(new Error(`unknown op ${m.op}`))).then(
    (result) => process.send!({ id: m.id, ok: true, result }),
    (err: Error & { code?: string }) =>
      process.send!({ id: m.id, ok: false, error: { name: err.name, message: err.message, code: err.code } }),
  );
});
process.send!({ ready: true });
