/**
 * Rolling deploy, the unlucky order (issue 17, item 3): the only node with the newer sites config
 * is gone and the running nodes are all on the older one, so the log has a site none of them can
 * sign for. The sites they do know must still be told of every ban (before, an older node refused
 * the broadcast lease altogether and no site heard of any ban), and the unknown site's deliveries
 * wait in the log, not abandoned, for a node that has it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { brokerLoggerOptions } from '../../../adapters/http/logging.js';
import type { SiteConfig } from '../../../config/types.js';
import { logCollector } from '../../helpers/broker.js';
import { dropSchema, freshSchema, openPg, pgUnavailable } from '../../adapters/event-stores/pg-fixture.js';
import plugin from '../../../plugins/ban-broadcast/index.js';
import { startReceiver, until, secretFor } from './receivers.js';
import { banSomeone, brokerConfig, eventsOf, fastConfig, site } from './setup.js';

const unavailable = await pgUnavailable();

describe.skipIf(unavailable !== null)('rolling deploy: no running node knows a logged site', () => {
  const schema = freshSchema();
  const cleanup: (() => Promise<unknown> | void)[] = [];
  afterAll(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
    await dropSchema(schema);
  });

  async function startNode(
    nodeId: string,
    sites: SiteConfig[],
    sitesRevision: number,
  ): Promise<{ broker: Broker; logs: Record<string, unknown>[] }> {
    const { logs, sink } = logCollector();
    const config = { ...brokerConfig(sites), sitesRevision, cluster: { nodeId } };
    const broker = await bootBroker(config, {
      store: await openPg(schema),
      plugins: [{ plugin, config: { ...fastConfig, retry: { ...fastConfig.retry, horizonMs: 60_000 } } }],
      logger: pino(brokerLoggerOptions('info'), sink),
    });
    await broker.ready();
    return { broker, logs };
  }

  it(
    'the sites the old nodes know are still told of every ban; the unknown one waits for a node that has it',
    { timeout: 60_000 },
    async () => {
      const forum = await startReceiver(secretFor(0));
      const shop = await startReceiver(secretFor(1));
      cleanup.push(
        () => forum.close(),
        () => shop.close(),
      );
      const v1 = [site('forum', forum.url, secretFor(0))];
      const v2 = [...v1, site('shop', shop.url, secretFor(1))];

      const b = await startNode('node-b', v2, 2); // registers `shop`, then goes away
      await b.broker.stop();
      const a = await startNode('node-a', v1, 1);
      cleanup.push(() => a.broker.stop());

      const bans = [await banSomeone(a.broker), await banSomeone(a.broker)];
      await until(() => bans.every((x) => forum.acked.some((d) => d.body.includes(x.userId))), 20_000, 'both bans at the forum');
      expect(shop.received).toEqual([]);
      expect(await eventsOf(a.broker.store, 'BanNotificationAbandoned')).toEqual([]);
      await until(() => a.logs.some((l) => String(l.msg).includes('leaving its deliveries to a node that has it')), 5000, 'the warning');

      // The newer config comes back: it takes the lease when the old node steps aside and tells the shop.
      const b2 = await startNode('node-b', v2, 2);
      cleanup.push(() => b2.broker.stop());
      await until(() => bans.every((x) => shop.acked.some((d) => d.body.includes(x.userId))), 20_000, 'both bans at the shop');
      expect(shop.acked.every((d) => d.verified)).toBe(true);
    },
  );
});
