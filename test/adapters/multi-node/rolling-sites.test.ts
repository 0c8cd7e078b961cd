/**
 * Sites in a rolling deploy (issue 17, item 3): nodes with different sites configs on one
 * PostgreSQL log must not undo each other. The real kernel, two or three brokers on one schema,
 * real webhook receivers: a node restarted with an older `sitesRevision` removes nothing, says so
 * (log, /metrics, /readyz) and bans it records still reach the site only the newer config has.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { brokerLoggerOptions } from '../../../adapters/http/logging.js';
import type { SiteConfig } from '../../../config/types.js';
import type { EventStore } from '../../../core/index.js';
import plugin from '../../../plugins/ban-broadcast/index.js';
import { logCollector } from '../../helpers/broker.js';
import { dropSchema, freshSchema, openPg, pgUnavailable } from '../event-stores/pg-fixture.js';
import { secretFor, startReceiver, until, type Receiver } from '../../plugins/ban-broadcast/receivers.js';
import { banSomeone, brokerConfig, eventsOf, site } from '../../plugins/ban-broadcast/setup.js';

const unavailable = await pgUnavailable();
const pluginConfig = { timeoutMs: 2000, concurrency: 4, leaseMs: 1500, retry: { initialDelayMs: 100, maxDelayMs: 500, horizonMs: 60_000 }, allowPrivateAddresses: ['127.0.0.1'] };

interface Node {
  broker: Broker;
  url: string;
  logs: Record<string, unknown>[];
}

async function node(nodeId: string, store: EventStore, sites: SiteConfig[], sitesRevision: number | undefined): Promise<Node> {
  const { logs, sink } = logCollector();
  const config = { ...brokerConfig(sites), cluster: { nodeId }, ...(sitesRevision === undefined ? {} : { sitesRevision }) };
  const broker = await bootBroker(config, { store, plugins: [{ plugin, config: pluginConfig }], logger: pino(brokerLoggerOptions('info'), sink) });
  const url = await broker.listen();
  return { broker, url, logs };
}

const siteEvents = async (store: EventStore) => [...(await eventsOf(store, 'SiteRegistered')), ...(await eventsOf(store, 'SiteUpdated')), ...(await eventsOf(store, 'SiteRemoved'))].length;
const readyz = async (n: Node) => {
  const r = await fetch(`${n.url}/readyz`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};
const metrics = async (n: Node) => (await fetch(`${n.url}/metrics`)).text();

describe.skipIf(unavailable !== null)('sites in a rolling deploy on PostgreSQL', () => {
  const schema = freshSchema();
  const stops: (() => Promise<unknown>)[] = [];
  let forum: Receiver;
  let shop: Receiver;
  let running: Node[] = [];
  const forumSite = () => site('forum', forum.url, secretFor(0));
  const shopSite = () => site('shop', shop.url, secretFor(1));
  beforeAll(async () => {
    forum = await startReceiver(secretFor(0));
    shop = await startReceiver(secretFor(1));
  });
  afterAll(async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
    await forum?.close();
    await shop?.close();
    await dropSchema(schema);
  });

  it('an older config restarted after a newer one removes nothing, says so, and bans still reach the new site', { timeout: 60_000 }, async () => {
    const a = await node('node-a', await openPg(schema), [forumSite()], 1);
    await a.broker.stop();
    const b = await node('node-b', await openPg(schema), [forumSite(), shopSite()], 2);
    stops.push(() => b.broker.stop());
    running.push(b);
    expect(b.broker.read.sites.active().map((s) => s.siteId)).toEqual(['forum', 'shop']);
    expect((await readyz(b)).body.sites).toBeUndefined();

    // node-a comes back with its old file (the rolling deploy has not reached it yet).
    const before = await siteEvents(b.broker.store);
    const old = await node('node-a', await openPg(schema), [forumSite()], 1);
    stops.push(() => old.broker.stop());
    expect(await siteEvents(old.broker.store)).toBe(before);
    expect(await eventsOf(old.broker.store, 'SiteRemoved')).toEqual([]);
    expect(old.broker.read.sites.active().map((s) => s.siteId)).toEqual(['forum', 'shop']);
    await until(() => old.logs.some((l) => String(l.msg).startsWith('SITES CONFIG IS OLDER')), 2000, 'the warning');
    expect(old.logs.find((l) => String(l.msg).startsWith('SITES CONFIG IS OLDER'))).toMatchObject({ level: 50, sitesRevision: 1, logRevision: 2, appliedBy: 'node-b' });
    // Still ready (it serves as well as the others), with the disagreement in the details.
    expect(await readyz(old)).toEqual({ status: 200, body: expect.objectContaining({ status: 'ready', sites: { state: 'behind', revision: 1, logRevision: 2, appliedBy: 'node-b' } }) });
    const m = await metrics(old);
    expect(m).toContain('broker_sites_config_disagreement{node="node-a",state="behind"} 1');
    expect(m).toContain('broker_sites_config_revision{node="node-a",source="config"} 1');
    expect(m).toContain('broker_sites_config_revision{node="node-a",source="log"} 2');
    expect(await metrics(b)).toContain('broker_sites_config_disagreement{node="node-b",state="behind"} 0');

    // Bans recorded through the old node while it runs alone: it sends the forum's, and leaves the
    // shop's (it has no secret for it) without abandoning them.
    await b.broker.stop();
    running = [];
    const bans: string[] = [];
    for (let i = 0; i < 4; i++) bans.push((await banSomeone(old.broker)).ban.id);
    await until(() => forum.acked.length >= bans.length, 20_000, 'the forum told by the old node');
    await until(() => old.logs.some((l) => String(l.msg).includes('the log has this site but this node')), 5000, 'the old node stepping aside for the shop');
    expect(shop.received).toEqual([]);
    // A node with the newer config comes back: it takes the lease the old one lets go and tells the shop.
    const b2 = await node('node-b', await openPg(schema), [forumSite(), shopSite()], 2);
    stops.push(() => b2.broker.stop());
    running.push(b2);
    await until(() => shop.acked.length >= bans.length, 20_000, 'every ban at the shop');
    expect(shop.acked.map((r) => r.headers['webhook-id']).sort()).toEqual([...bans].sort());
    expect(shop.acked.every((r) => r.verified)).toBe(true);
    expect(await eventsOf(b2.broker.store, 'BanNotificationAbandoned')).toEqual([]);
  });

  it('an equal revision with other content changes nothing on either side, and the same config again writes nothing', { timeout: 30_000 }, async () => {
    const store = await openPg(schema);
    const before = await siteEvents(store);
    await store.close();
    // Same revision 2, but the shop's webhook moved: a mistake (no bump), not an order.
    const c = await node('node-c', await openPg(schema), [forumSite(), site('shop', 'http://127.0.0.1:9/elsewhere', secretFor(1))], 2);
    stops.push(() => c.broker.stop());
    expect(await siteEvents(c.broker.store)).toBe(before);
    expect(c.broker.read.sites.byId.get('shop')?.webhookUrl).toBe(shop.url);
    expect((await readyz(c)).body.sites).toMatchObject({ state: 'conflict', revision: 2, logRevision: 2 });
    expect(await metrics(c)).toContain('broker_sites_config_disagreement{node="node-c",state="conflict"} 1');
    await until(() => c.logs.some((l) => String(l.msg).startsWith('SITES CONFIG DISAGREES')), 2000, 'the warning');

    // Another node with the config that won: nothing to write, nothing flips back.
    const again = await node('node-e', await openPg(schema), [forumSite(), shopSite()], 2);
    stops.push(() => again.broker.stop());
    expect(await siteEvents(again.broker.store)).toBe(before);
    expect((await readyz(again)).body.sites).toBeUndefined();
  });

  it('a newer revision does change the sites, and running older nodes see it at once', { timeout: 30_000 }, async () => {
    const d = await node('node-d', await openPg(schema), [shopSite()], 3);
    stops.push(() => d.broker.stop());
    expect(d.broker.read.sites.active().map((s) => s.siteId)).toEqual(['shop']);
    expect((await eventsOf(d.broker.store, 'SiteRemoved')).map((e) => (e.data as { siteId: string }).siteId)).toEqual(['forum']);
    const applied = await eventsOf(d.broker.store, 'SitesConfigApplied');
    expect(applied.map((e) => (e.data as { revision: number }).revision)).toEqual([1, 2, 3]);
    // node-b (revision 2) is still running: it notices that it is now behind, and says so.
    const [b] = running;
    await until(() => b.broker.cluster.sites?.state === 'behind', 5000, 'node-b to see revision 3');
    expect((await readyz(b)).body.sites).toMatchObject({ state: 'behind', revision: 2, logRevision: 3, appliedBy: 'node-d' });
    await until(() => b.logs.some((l) => String(l.msg).startsWith('SITES CONFIG IS OLDER')), 2000, 'the warning on node-b');
  });
});

describe('sites on a store only one node can open', () => {
  it('an edited list is applied without a revision bump (one node cannot disagree with itself), an older revision is not', { timeout: 30_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sites-single-'));
    const boot = async (sites: SiteConfig[], sitesRevision?: number) => {
      const config = { ...brokerConfig(sites), dataDir: dir, store: { kind: 'sqlite' as const, path: path.join(dir, 'broker.db') }, ...(sitesRevision === undefined ? {} : { sitesRevision }) };
      const broker = await bootBroker(config);
      await broker.ready();
      const out = { active: broker.read.sites.active().map((s) => s.siteId), state: broker.cluster.sites?.state };
      await broker.stop();
      return out;
    };
    try {
      expect(await boot([site('forum', 'http://127.0.0.1:9/a', secretFor(0))])).toEqual({ active: ['forum'], state: 'in_line' });
      expect(await boot([site('shop', 'http://127.0.0.1:9/b', secretFor(1))])).toEqual({ active: ['shop'], state: 'in_line' });
      expect(await boot([site('shop', 'http://127.0.0.1:9/b', secretFor(1))], 5)).toEqual({ active: ['shop'], state: 'in_line' });
      expect(await boot([site('forum', 'http://127.0.0.1:9/a', secretFor(0))], 4)).toEqual({ active: ['shop'], state: 'behind' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
