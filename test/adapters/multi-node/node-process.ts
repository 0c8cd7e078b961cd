/**
 * One broker node as its own OS process, booted from config on a PostgreSQL store, driven by
 * its parent over IPC (see cluster.ts). Nothing is shared with the other node but the database.
 * argv[2]: JSON { url, schema, name }.
 */
import { bootBroker } from '../../../adapters/kernel/boot.js';
import type { BrokerConfig } from '../../../config/types.js';

const { url, schema, name } = JSON.parse(process.argv[2]) as { url: string; schema: string; name: string };
const config: BrokerConfig = {
  server: { host: '127.0.0.1', port: 0, baseUrl: 'http://127.0.0.1', trustProxy: false, insecureCookies: true },
  dataDir: '/nonexistent',
  store: { kind: 'postgres', url, schema, poolMax: 5 },
  secrets: { masterKey: 'multi-node-test-master-key-0123456789' },
  session: { absoluteSeconds: 3600, idleSeconds: 600 },
  log: { level: 'silent' },
  admin: { apiTokens: [] },
  sites: [],
  plugins: [],
};
const broker = await bootBroker(config);
await broker.ready();

/** Wall-clock time with sub-millisecond resolution, comparable across processes on one machine. */
const now = (): number => performance.timeOrigin + performance.now();

type Msg = { id: number; op: string; args: Record<string, unknown> };
const ops: Record<string, (a: Record<string, unknown>) => Promise<unknown>> = {
  async register(a) {
    const r = await broker.users.register({ email: a.email as string, name: name }, { actor: `test:${name}` });
    await broker.projections.waitFor(r.position);
    return { userId: r.userId, position: r.position };
  },
  async link(a) {
    const r = await broker.users.execute(a.userId as string, { type: 'linkIdentity', issuer: a.issuer as string, subject: a.subject as string }, { actor: `test:${name}` });
    return { position: r.position };
  },
  async login(a) {
    const out = await broker.login.complete({ issuer: (a.issuer as string) ?? 'local', subject: (a.subject as string) ?? (a.userId as string), userId: a.userId as string | undefined, amr: ['pwd'] } as never);
    return { userId: out.userId, sessionToken: out.sessionToken, position: out.position };
  },
  async ban(a) {
    const t0 = now();
    const r = await broker.users.execute(a.userId as string, { type: 'ban', reason: 'multi-node test', actor: `admin:${name}` }, { actor: `admin:${name}` });
    return { t0, committed: now(), position: r.position };
  },
  async validate(a) {
    return { valid: broker.login.validateSession(a.token as string) !== null, position: broker.projections.position };
  },
  async waitPosition(a) {
    await broker.projections.waitFor(a.position as number, 10_000);
    return { position: broker.projections.position };
  },
  /** Resolves with the moment this node first refuses the session (checked every millisecond). */
  async watchRefusal(a) {
    const token = a.token as string;
    const deadline = now() + ((a.timeoutMs as number) ?? 5000);
    for (;;) {
      if (broker.login.validateSession(token) === null) return { at: now() };
      if (now() > deadline) throw new Error(`node ${name} still accepts the session`);
      await new Promise((r) => setTimeout(r, 1));
    }
  },
  /** Registers users and logs them in, 8 at a time, until the process is killed; reports progress. */
  async flood() {
    let n = 0;
    const worker = async (w: number): Promise<void> => {
      for (;;) {
        const r = await broker.users.register({ email: `flood-${name}-${w}-${n++}@example.com` }, { actor: `test:${name}` });
        await broker.login.complete({ issuer: 'local', subject: r.userId, userId: r.userId, amr: ['pwd'] } as never);
        process.send!({ progress: n });
      }
    };
    for (let w = 0; w < 8; w++) void worker(w).catch(() => {});
    return {};
  },
  async stop() {
    await broker.stop();
    setImmediate(() => process.exit(0));
    return {};
  },
};

process.on('message', (m: Msg) => {
  const op = ops[m.op];
  (op ? op(m.args ?? {}) : Promise.reject(new Error(`unknown op ${m.op}`))).then(
    (result) => process.send!({ id: m.id, ok: true, result }),
    (err: Error & { code?: string }) => process.send!({ id: m.id, ok: false, error: { name: err.name, message: err.message, code: err.code } }),
  );
});
process.send!({ ready: true });
