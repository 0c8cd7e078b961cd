import { afterEach, describe, expect, it, vi } from 'vitest';
import { CommandHandler, Users, type EventStore } from '../../../core/index.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import { startBroker as startTestBroker, TEST_ARGON2, type TestBroker } from '../../helpers/broker.js';
import { client } from '../../helpers/cookie-jar.js';
import { bootstrapAdmin, setupPath } from './setup-flow.js';

/** Captures what the broker writes to stderr (the operator's console) while `fn` runs. */
async function capturingStderr<T>(fn: () => Promise<T>): Promise<{ result: T; stderr: string }> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  try {
    return { result: await fn(), stderr: chunks.join('') };
  } finally {
    spy.mockRestore();
  }
}

// Logging at debug through the production options (redaction, query scrubbing): the strictest
// check that no log line an operator would see holds the setup token.
const startBroker = (opts: { plugins: { name: string; config?: unknown }[]; store?: EventStore }): Promise<TestBroker> =>
  startTestBroker({ ...opts, logLevel: 'debug' });

const adminPlugins = (setup: Record<string, unknown> = {}) => [
  { name: 'password-login', config: { argon2: TEST_ARGON2 } },
  { name: 'admin', config: { argon2: TEST_ARGON2, setup } },
];

describe('first-run setup URL: console only, never the log', () => {
  let t: TestBroker | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('prints the setup URL on stderr, and no log line ever holds its token, through setup, reuse and forgery', async () => {
    const { result, stderr } = await capturingStderr(() => startBroker({ plugins: adminPlugins() }));
    t = result;
    const path = setupPath(t);
    const token = new URL(path, 'http://x').searchParams.get('token')!;
    expect(token.length).toBeGreaterThan(20);
    expect(stderr).toContain('No administrator yet');
    expect(stderr).toContain(`/admin/setup?token=${token}`);

    const pending = t.logs.filter((l) => String(l.msg).startsWith('first-run setup pending'));
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ level: 40, plugin: 'admin' });
    expect(pending[0].msg).toContain('printed on the console');
    expect(pending[0]).not.toHaveProperty('setupUrl');

    // The token also travels in request URLs and form bodies: the whole flow must keep it out of the log.
    await bootstrapAdmin(t);
    expect((await client(t.url).get(path)).res.status).toBe(410);
    expect((await client(t.url).get('/admin/setup?token=not-a-real-token')).res.status).toBe(404);
    expect(t.logs.length).toBeGreaterThan(pending.length);
    expect(JSON.stringify(t.logs)).not.toContain(token);
  });

  it('prints nothing with printUrl: false (or the old printToStdout: false), and still logs no token', async () => {
    for (const setup of [{ printUrl: false }, { printToStdout: false }]) {
      const { result, stderr } = await capturingStderr(() => startBroker({ plugins: adminPlugins(setup) }));
      t = result;
      const token = new URL(setupPath(t), 'http://x').searchParams.get('token')!;
      expect(stderr).not.toContain(token);
      expect(JSON.stringify(t.logs)).not.toContain(token);
      expect(t.logs.find((l) => String(l.msg).startsWith('first-run setup pending'))?.msg).toContain('printUrl is false');
      await t.stop();
      t = undefined;
    }
  });

  it('issues, prints and logs nothing once an administrator exists', async () => {
    const store = new MemoryEventStore();
    await new Users(store, new CommandHandler(store)).register(
      { email: 'root@example.com', name: 'Root', admin: true, via: 'cli' },
      { actor: 'test' },
    );
    const { result, stderr } = await capturingStderr(() => startBroker({ plugins: adminPlugins(), store }));
    t = result;
    expect(stderr).not.toContain('/admin/setup');
    expect(() => setupPath(t!)).toThrow('no setup URL was issued');
    expect(t.logs.some((l) => String(l.msg).includes('first-run setup'))).toBe(false);
    expect((await t.broker.store.readStream('admin-setup')).length).toBe(0);
  });

  it('one setup URL per cluster: a second node started meanwhile names the node that printed it, prints no URL, and the first URL still works', async () => {
    const store = new MemoryEventStore();
    const first = await capturingStderr(() => startBroker({ plugins: adminPlugins(), store }));
    t = first.result;
    const second = await capturingStderr(() => startBroker({ plugins: adminPlugins(), store }));
    const b = second.result;
    try {
      const node = t.broker.cluster.nodeId;
      expect(second.stderr).toContain(`Setup is pending: use the one-time URL printed by node ${node}`);
      expect(second.stderr).not.toContain('/admin/setup');
      expect(() => setupPath(b)).toThrow('no setup URL was issued');
      expect(b.logs.find((l) => String(l.msg).startsWith('first-run setup pending'))).toMatchObject({
        level: 40,
        issuedBy: node,
        msg: `first-run setup pending: use the one-time setup URL printed by ${node}`,
      });
      const issued = (await store.readStream('admin-setup')).filter((e) => e.type === 'SetupTokenIssued');
      expect(issued.map((e) => (e.data as { issuedBy: string }).issuedBy)).toEqual([node]);
      // The first node's link was not voided by the second start: it creates the administrator.
      await bootstrapAdmin(t);
    } finally {
      await b.stop();
    }
  });
});
