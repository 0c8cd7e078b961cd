/**
 * Failover of the ban webhook sender between two broker nodes on one PostgreSQL log (issue 17,
 * item 4): the holder is named (cluster.nodeId) in the logs and /metrics, and a graceful stop
 * hands the lease over at once, well under the lease duration; after a kill -9 the other node takes
 * over within the lease and counts what it may have sent twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { brokerLoggerOptions } from '../../../adapters/http/logging.js';
import { logCollector } from '../../helpers/broker.js';
import { PG_URL, dropSchema, freshSchema, openPg, pgUnavailable } from '../../adapters/event-stores/pg-fixture.js';
import plugin from '../../../plugins/ban-broadcast/index.js';
import { startReceiver, until, secretFor, type Receiver } from './receivers.js';
import { banSomeone, brokerConfig, eventsOf, site } from './setup.js';

const unavailable = await pgUnavailable();
const root = path.resolve(__dirname, '../../..');

/** A broker node in its own process (fixtures/broker-child.ts) on the schema; prints lines to `lines`. */
function startChild(env: Record<string, string>): { child: ChildProcess; lines: string[] } {
  const child = spawn(process.execPath, ['--import', './adapters/cli/ts-register.mjs', path.join(__dirname, 'fixtures/broker-child.ts')], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    const parts = (buf += d.toString()).split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  return { child, lines };
}
const LEASE_MS = 10_000;
const pluginConfig = {
  timeoutMs: 1000,
  concurrency: 4,
  leaseMs: LEASE_MS,
  retry: { initialDelayMs: 100, maxDelayMs: 100, horizonMs: 120_000 },
  allowPrivateAddresses: ['127.0.0.1'],
};

interface Node {
  broker: Broker;
  url: string;
  logs: Record<string, unknown>[];
}

describe.skipIf(unavailable !== null)('ban broadcast failover between two nodes on PostgreSQL', () => {
  const cleanup: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function startNode(nodeId: string, schema: string, receiver: Receiver): Promise<Node> {
    const { logs, sink } = logCollector();
    const config = { ...brokerConfig([site('forum', receiver.url, secretFor(0))]), cluster: { nodeId } };
    const broker = await bootBroker(config, {
      store: await openPg(schema),
      plugins: [{ plugin, config: pluginConfig }],
      logger: pino(brokerLoggerOptions('info'), sink),
    });
    const url = await broker.listen();
    cleanup.push(() => broker.stop());
    return { broker, url, logs };
  }

  const metrics = async (n: Node) => (await fetch(`${n.url}/metrics`)).text();
  const logged = (n: Node, msg: string) => n.logs.filter((l) => l.msg === msg);

  it(
    'names the holder in logs and /metrics, and a graceful stop of the holder lets the other node send at once',
    { timeout: 60_000 },
    async () => {
      const schema = freshSchema();
      cleanup.push(() => dropSchema(schema));
      // A slow receiver and one delivery at a time: the holder has a queue when it is stopped.
      const receiver = await startReceiver(secretFor(0), (_n, _req, res) => void setTimeout(() => res.writeHead(200).end(), 250));
      cleanup.push(() => receiver.close());

      const a = await startNode('node-a', schema, receiver);
      const bans = [(await banSomeone(a.broker)).ban];
      await until(() => receiver.received.length >= 1, 10_000, 'node-a sending');
      expect(logged(a, 'lease acquired')).toEqual([expect.objectContaining({ lease: 'ban-broadcast', node: 'node-a' })]);
      expect(await metrics(a)).toContain('broker_reactor_lease_held{reactor="ban-broadcast",node="node-a"} 1');

      const b = await startNode('node-b', schema, receiver);
      expect(await metrics(b)).toContain('broker_reactor_lease_held{reactor="ban-broadcast",node="node-b"} 0');
      for (let i = 0; i < 15; i++) bans.push((await banSomeone(a.broker)).ban);
      await until(() => receiver.acked.length >= 4, 20_000, 'node-a working through the queue');

      await a.broker.stop(); // drains the delivery in flight, then hands the lease over
      const stoppedAt = Date.now();
      const before = receiver.received.length;
      expect(before).toBeLessThan(bans.length);
      expect(logged(a, 'lease handed over (graceful stop)')).toEqual([expect.objectContaining({ node: 'node-a' })]);
      await until(() => receiver.received.length > before, LEASE_MS, 'node-b sending after the hand-over');
      const takeoverMs = Date.now() - stoppedAt;
      console.info(`graceful hand-over: node-b sent ${takeoverMs} ms after node-a stopped (lease ${LEASE_MS} ms)`);
      expect(takeoverMs).toBeLessThan(2000);
      expect(logged(b, 'lease acquired')).toEqual([expect.objectContaining({ lease: 'ban-broadcast', node: 'node-b' })]);
      expect(await metrics(b)).toContain('broker_reactor_lease_held{reactor="ban-broadcast",node="node-b"} 1');
      expect(await metrics(b)).toContain('broker_reactor_lease_acquired_total{reactor="ban-broadcast",node="node-b",found="free"} 1');

      await until(() => receiver.acked.length >= bans.length, 20_000, 'every ban acknowledged');
      // Each ban sent once (a graceful hand-over repeats nothing), with the ban's own id as webhook-id.
      expect(receiver.received.map((r) => r.headers['webhook-id']).sort()).toEqual(bans.map((e) => e.id).sort());
      const holders = (await eventsOf(b.broker.store, 'LeaseAcquired')).map((e) => (e.data as { holder: string }).holder);
      expect(holders.slice(0, 2)).toEqual(['node-a', 'node-b']);
    },
  );

  it(
    'after a kill -9 of the holder, the other node takes over within the lease and counts the resend as a possible duplicate (same webhook-id)',
    { timeout: 90_000 },
    async () => {
      const schema = freshSchema();
      cleanup.push(() => dropSchema(schema));
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ban-failover-'));
      cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
      // The first request never gets an answer: the holder dies with it in flight, not knowing whether it arrived.
      const receiver = await startReceiver(secretFor(0), (n, _req, res) => void (n === 0 ? undefined : res.writeHead(200).end()));
      cleanup.push(() => receiver.close());
      const crashLease = 2000;

      const a = startChild({
        DATA_DIR: dir,
        PG_URL,
        PG_SCHEMA: schema,
        NODE_ID: 'node-a',
        LEASE_MS: String(crashLease),
        SITES: JSON.stringify([{ id: 'forum', url: receiver.url, secret: secretFor(0) }]),
      });
      cleanup.push(() => void a.child.kill('SIGKILL'));
      await until(() => a.lines.includes('ready'), 60_000, 'node-a ready');
      a.child.stdin!.write('ban\n');
      await until(() => receiver.received.length === 1, 10_000, 'node-a sending');
      const banId = receiver.received[0].headers['webhook-id'];
      // node-b starts only now: node-a holds the lease and has the request in flight (started together,
      // an in-process node-b could win the lease first under load, and node-a would have nothing to lose).
      const { logs, sink } = logCollector();
      const config = {
        ...brokerConfig([site('forum', receiver.url, secretFor(0))]),
        cluster: { nodeId: 'node-b' },
        secrets: { masterKey: 'm'.repeat(32) },
      }; // node-a's key: one cluster, one master key
      const b = await bootBroker(config, {
        store: await openPg(schema),
        plugins: [{ plugin, config: { ...pluginConfig, leaseMs: crashLease } }],
        logger: pino(brokerLoggerOptions('info'), sink),
      });
      const bUrl = await b.listen();
      cleanup.push(() => b.stop());

      const exited = new Promise((r) => a.child.once('exit', r));
      a.child.kill('SIGKILL');
      await exited;
      const killedAt = Date.now();

      await until(() => receiver.acked.length === 1, crashLease + 5000, 'node-b delivering after the takeover');
      const takeoverMs = Date.now() - killedAt;
      console.info(`takeover after kill -9: node-b delivered ${takeoverMs} ms after node-a died (lease ${crashLease} ms)`);
      expect(takeoverMs).toBeLessThan(crashLease + 1500);
      expect(receiver.acked[0].headers['webhook-id']).toBe(banId);
      const takeovers = () => logs.filter((l) => l.msg === 'lease taken over after expiry (the previous holder stopped renewing)');
      // pino writes through its stream asynchronously: the line may land just after the delivery.
      await until(() => takeovers().length > 0, 10_000, 'the takeover log line');
      expect(takeovers()).toEqual([expect.objectContaining({ lease: 'ban-broadcast', node: 'node-b', previous: 'node-a' })]);
      const text = await (await fetch(`${bUrl}/metrics`)).text();
      expect(text).toContain('broker_reactor_duplicates_total{reactor="ban-broadcast",kind="after_expired_takeover",node="node-b"} 1');
      expect(text).toContain('broker_reactor_lease_acquired_total{reactor="ban-broadcast",node="node-b",found="expired"} 1');
    },
  );
});
