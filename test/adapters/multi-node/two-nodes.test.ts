/**
 * Two broker processes on one PostgreSQL log (issue 9, item 4). Each node is its own OS process
 * with its own pool and LISTEN connection; they share nothing but the database.
 * The ban is checked on B three ways: the session check, check-token and the gateway. "Only one node
 * sends each ban webhook" (the ban-broadcast lease) is tested in test/plugins/ban-broadcast/broadcast.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainVerifier, type RecordedEvent } from '../../../core/index.js';
import { until } from '../event-stores/contract.js';
import { PG_URL, dropSchema, freshSchema, openPg, pgUnavailable } from '../event-stores/pg-fixture.js';
import { NodeError, percentile, startNode, type BrokerNode } from './cluster.js';

const unavailable = await pgUnavailable();

describe.skipIf(unavailable !== null)('two broker nodes on one PostgreSQL log', () => {
  const schema = freshSchema();
  let a: BrokerNode;
  let b: BrokerNode;
  beforeAll(async () => {
    // A first: it creates and migrates the schema; B then finds it ready (concurrent opens are tested elsewhere).
    a = await startNode('A', PG_URL, schema);
    b = await startNode('B', PG_URL, schema);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await dropSchema(schema);
  });

  it('a ban written through A ends the session on B within 200 ms', async () => {
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { userId } = await b.call<{ userId: string }>('register', { email: `ban${i}-${schema}@example.com` });
      const { sessionToken, position } = await b.call<{ sessionToken: string; position: number }>('login', { userId });
      await a.call('waitPosition', { position });
      expect(await b.call('validate', { token: sessionToken })).toMatchObject({ valid: true });
      const refused = b.call<{ at: number }>('watchRefusal', { token: sessionToken, timeoutMs: 5000 });
      const { t0 } = await a.call<{ t0: number }>('ban', { userId });
      const { at } = await refused;
      latencies.push(at - t0);
    }
    latencies.sort((x, y) => x - y);
    console.info(`ban A -> refusal on B: ${latencies.map((l) => l.toFixed(1)).join(', ')} ms`);
    expect(percentile(latencies, 100)).toBeLessThan(200);
  });

  it("a ban written through A is refused by B's check-token and gateway within 200 ms", async () => {
    const checkLatencies: number[] = [];
    const gatewayLatencies: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { userId } = await b.call<{ userId: string }>('register', { email: `tok${i}-${schema}@example.com` });
      const { sessionToken } = await b.call<{ sessionToken: string }>('login', { userId });
      const { accessToken, position } = await b.call<{ accessToken: string; position: number }>('accessToken', { sessionToken });
      await a.call('waitPosition', { position });
      expect(await b.call('checkToken', { token: accessToken })).toEqual({ active: true, gateway: 200 });
      const refused = b.call<{ checkAt: number; gatewayAt: number }>('watchTokenRefusal', { token: accessToken, timeoutMs: 5000 });
      const { t0 } = await a.call<{ t0: number }>('ban', { userId });
      const { checkAt, gatewayAt } = await refused;
      checkLatencies.push(checkAt - t0);
      gatewayLatencies.push(gatewayAt - t0);
      expect(await b.call('checkToken', { token: accessToken })).toEqual({ active: false, gateway: 401 });
    }
    console.info(
      `ban A -> B check-token inactive: ${checkLatencies.map((l) => l.toFixed(1)).join(', ')} ms; B gateway 401: ${gatewayLatencies.map((l) => l.toFixed(1)).join(', ')} ms`,
    );
    expect(Math.max(...checkLatencies, ...gatewayLatencies)).toBeLessThan(200);
  });

  it('a user registered on B logs in on A, and an identity linked on B resolves on A', async () => {
    const { userId } = await b.call<{ userId: string }>('register', { email: `cross-${schema}@example.com` });
    const out = await a.call<{ userId: string; sessionToken: string }>('login', { userId });
    expect(out.userId).toBe(userId);
    expect(await a.call('validate', { token: out.sessionToken })).toMatchObject({ valid: true });
    await b.call('link', { userId, issuer: 'https://idp.example', subject: 'sub-42' });
    const viaIdp = await a.call<{ userId: string }>('login', { issuer: 'https://idp.example', subject: 'sub-42' });
    expect(viaIdp.userId).toBe(userId);
  });

  it('a user banned through B cannot log in on A', async () => {
    const { userId } = await a.call<{ userId: string }>('register', { email: `refused-${schema}@example.com` });
    await b.call('ban', { userId });
    const err = await a.call('login', { userId }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeError);
    expect((err as NodeError).error.code).toBe('banned');
  });

  it('a node killed mid-append (SIGKILL under load) leaves no torn state; the others keep going', async () => {
    const c = await startNode('C', PG_URL, schema);
    await c.call('flood');
    await until(() => c.progress >= 30, 'node C to be busy writing', 30_000);
    const exited = new Promise((r) => c.child.once('exit', r));
    c.child.kill('SIGKILL');
    await exited;
    const store = await openPg(schema);
    try {
      const all: RecordedEvent[] = [];
      for (let after = 0; ;) {
        const page = await store.readAll({ after, limit: 5000 });
        all.push(...page);
        if (page.length < 5000) break;
        after = page[page.length - 1].position;
      }
      const v = new ChainVerifier();
      for (const e of all) v.check(e);
      expect(v.breaks).toEqual([]);
      // Every stream's head row agrees with its last event: nothing half-written.
      const torn = await store.pool.query(
        `SELECT s.stream_id FROM "${schema}".streams s
           LEFT JOIN LATERAL (SELECT revision, hash FROM "${schema}".events e WHERE e.stream_id = s.stream_id ORDER BY revision DESC LIMIT 1) e ON true
          WHERE e.revision IS DISTINCT FROM s.revision OR e.hash IS DISTINCT FROM s.last_hash`,
      );
      expect(torn.rows).toEqual([]);
      const { userId } = await a.call<{ userId: string }>('register', { email: `after-kill-${schema}@example.com` });
      expect(await b.call('login', { userId })).toMatchObject({ userId });
    } finally {
      await store.close();
    }
  }, 90_000);
});
