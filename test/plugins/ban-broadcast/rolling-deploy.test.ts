/**
 * Sites in a rolling deploy (issue 17, item 3), two broker nodes on one PostgreSQL log. The config
 * carries `sitesRevision`; the log remembers the highest revision applied. A node restarted with an
 * older config changes no site (before, it recorded SiteRemoved for the site a newer node had added
 * and bans stopped reaching it), says so loudly (log, /readyz, /metrics) and leaves the sending of
 * ban webhooks to a node whose config knows every site; two configs at one revision do not flip-flop.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { brokerLoggerOptions } from '../../../adapters/http/logging.js';
import type { SiteConfig } from '../../../config/types.js';
import { logCollector } from '../../helpers/broker.js';
import { dropSchema, freshSchema, openPg, pgUnavailable } from '../../adapters/event-stores/pg-fixture.js';
import plugin from '../../../plugins/ban-broadcast/index.js';
import { startReceiver, until, secretFor, type Receiver } from './receivers.js';
import { banSomeone, brokerConfig, eventsOf, fastConfig, site } from './setup.js';

const unavailable = await pgUnavailable();

interface Node {
  broker: Broker;
  url: string;
  logs: Record<string, unknown>[];
}

describe.skipIf(unavailable !== null)('sites in a rolling deploy (two nodes, PostgreSQL)', () => {
  const schema = freshSchema();
  const cleanup: (() => Promise<unknown> | void)[] = [];
  afterAll(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
    await dropSchema(schema);
  });

  async function startNode(nodeId: string, sites: SiteConfig[], sitesRevision: number): Promise<Node> {
    const { logs, sink } = logCollector();
    const config = { ...brokerConfig(sites), sitesRevision, cluster: { nodeId } };
    const broker = await bootBroker(config, {
      store: await openPg(schema),
      plugins: [{ plugin, config: { ...fastConfig, retry: { ...fastConfig.retry, horizonMs: 60_000 } } }],
      logger: pino(brokerLoggerOptions('info'), sink),
    });
    const url = await broker.listen();
    cleanup.push(() => broker.stop());
    return { broker, url, logs };
  }
  const warned = (n: Node, text: string) => n.logs.filter((l) => typeof l.msg === 'string' && l.msg.includes(text));
  const readyz = async (n: Node) => (await fetch(`${n.url}/readyz`)).json() as Promise<Record<string, unknown>>;
  const metric = async (n: Node, name: string) =>
    Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${n.url}/metrics`)).text())?.[1]);

  it('an old config changes no site, warns, and a ban still reaches the site only the new config has', { timeout: 60_000 }, async () => {
    const forum: Receiver = await startReceiver(secretFor(0));
    const shop: Receiver = await startReceiver(secretFor(1));
    cleanup.push(
      () => forum.close(),
      () => shop.close(),
    );
    const v1 = [site('forum', forum.url, secretFor(0))];
    const v2 = [...v1, site('shop', shop.url, secretFor(1))];

    const a1 = await startNode('node-a', v1, 1);
    const b = await startNode('node-b', v2, 2); // the rollout's first new node registers `shop`
    await a1.broker.stop(); // node A restarts, still on the old config
    const a = await startNode('node-a', v1, 1);

    const store = a.broker.store;
    expect((await eventsOf(store, 'SiteRemoved')).map((e) => e.data)).toEqual([]);
    expect(
      (await eventsOf(store, 'SiteRegistered')).map((e) => [
        (e.data as { siteId: string }).siteId,
        (e.data as { configRevision: number }).configRevision,
      ]),
    ).toEqual([
      ['forum', 1],
      ['shop', 2],
    ]);
    expect(
      a.broker.read.sites
        .active()
        .map((s) => s.siteId)
        .sort(),
    ).toEqual(['forum', 'shop']);
    // Loud on the old node: a warning, /readyz detail (still ready: it serves logins), a metric.
    expect(warned(a, 'sites config is OLDER than the log')).toHaveLength(1);
    const ready = await readyz(a);
    expect(ready).toMatchObject({
      status: 'ready',
      sitesConfig: { revision: 1, logRevision: 2, agreement: 'behind', unknownHere: ['shop'] },
    });
    expect(await metric(a, 'broker_sites_config_disagrees')).toBe(1);
    expect(await metric(b, 'broker_sites_config_disagrees')).toBe(0);
    expect((await readyz(b)).sitesConfig).toBeUndefined();

    // Bans from both nodes reach both sites: the old node, which cannot sign for `shop`, leaves
    // the sending to the new one instead of abandoning `shop`'s webhooks.
    const fromA = await banSomeone(a.broker, 'spam from a');
    const fromB = await banSomeone(b.broker, 'spam from b');
    for (const r of [forum, shop]) {
      await until(
        () => [fromA, fromB].every((x) => r.acked.some((d) => d.body.includes(x.userId))),
        20_000,
        `both bans acknowledged by ${r === forum ? 'forum' : 'shop'}`,
      );
      expect(r.acked.every((d) => d.verified)).toBe(true);
    }
    expect(await eventsOf(store, 'BanNotificationAbandoned')).toEqual([]);
    expect(warned(a, 'leaving its deliveries to a node that has it').length).toBeGreaterThan(0);
  });

  it('two configs claiming one revision: no flip-flop, the second says so', { timeout: 30_000 }, async () => {
    const before = (await eventsOf((await startNode('node-c', [], 2)).broker.store, 'SiteRemoved')).length;
    const c = await startNode('node-d', [site('forum', 'http://127.0.0.1:9/other', secretFor(0))], 2);
    expect(warned(c, 'sites config DIFFERS from the log at the same sitesRevision 2')).toHaveLength(1);
    expect((await eventsOf(c.broker.store, 'SiteRemoved')).length).toBe(before);
    expect(await eventsOf(c.broker.store, 'SiteUpdated')).toEqual([]);
    expect((await readyz(c)).sitesConfig).toMatchObject({ agreement: 'conflict', revision: 2, logRevision: 2 });
  });

  it('a newer revision applies its changes, removals included', { timeout: 30_000 }, async () => {
    const e = await startNode('node-e', [site('forum', 'http://127.0.0.1:9/moved', secretFor(0))], 3);
    expect((await eventsOf(e.broker.store, 'SiteRemoved')).map((x) => x.data)).toEqual([{ siteId: 'shop', configRevision: 3 }]);
    expect(e.broker.read.sites.byId.get('forum')).toMatchObject({ webhookUrl: 'http://127.0.0.1:9/moved', configRevision: 3 });
    expect((await readyz(e)).sitesConfig).toBeUndefined();
  });
});
