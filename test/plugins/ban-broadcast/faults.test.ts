import { describe, it, expect, afterEach } from 'vitest';
import type { Broker } from '../../../adapters/kernel/boot.js';
import type { RecordedEvent } from '../../../core/index.js';
import { startReceiver, until, secretFor, freePort, ok, type Receiver, type Behaviour } from './receivers.js';
import { bootWith, site, banSomeone, eventsOf, fastConfig } from './setup.js';

type Data = { siteId: string; attempt?: number; error?: string; reason?: string; status?: number | null; nextAttemptAt?: string | null };
const bySite = (events: RecordedEvent[], siteId: string): Data[] => events.map((e) => e.data as Data).filter((d) => d.siteId === siteId);

async function outcomes(broker: Broker) {
  return {
    delivered: await eventsOf(broker.store, 'BanNotificationDelivered'),
    failed: await eventsOf(broker.store, 'BanNotificationFailed'),
    abandoned: await eventsOf(broker.store, 'BanNotificationAbandoned'),
  };
}

describe('ban broadcast: the fault table', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  const rec = async (i: number, b: Behaviour = ok, port = 0): Promise<Receiver> => {
    const r = await startReceiver(secretFor(i), b, port);
    cleanup.push(() => r.close());
    return r;
  };

  it('handles down, slow, 500-then-200, 410, 3xx, closed connection, 429 + Retry-After and 400; nothing lost, nothing duplicated beyond at-least-once', async () => {
    const downPort = await freePort();
    const healthy = await rec(0);
    // Never answers its first request: the broker's timeout (1 s here) must cut it.
    const slow = await rec(1, (n, _q, res) => void (n === 0 ? undefined : res.writeHead(200).end()));
    const flaky = await rec(2, (n, _q, res) => void res.writeHead(n === 0 ? 500 : 200).end());
    const gone = await rec(3, (_n, _q, res) => void res.writeHead(410).end());
    const trap = await rec(4);
    const redirect = await rec(5, (_n, _q, res) => void res.writeHead(302, { location: trap.url }).end());
    const closer = await rec(6, (n, _q, res) => {
      if (n > 0) return void res.writeHead(200).end();
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    const limited = await rec(
      7,
      (n, _q, res) => void (n === 0 ? res.writeHead(429, { 'retry-after': '1' }).end() : res.writeHead(200).end()),
    );
    const bad = await rec(8, (_n, _q, res) => void res.writeHead(400).end());
    const sites = [
      site('down', `http://127.0.0.1:${downPort}/hook`, secretFor(9)),
      site('healthy', healthy.url, secretFor(0)),
      site('slow', slow.url, secretFor(1)),
      site('flaky', flaky.url, secretFor(2)),
      site('gone', gone.url, secretFor(3)),
      site('redirect', redirect.url, secretFor(5)),
      site('closer', closer.url, secretFor(6)),
      site('limited', limited.url, secretFor(7)),
      site('bad', bad.url, secretFor(8)),
    ];
    const broker = await bootWith(sites);
    cleanup.push(() => broker.stop());
    const { ban } = await banSomeone(broker);

    // The site that was down comes up after two refused attempts, on the same port.
    await until(async () => bySite((await outcomes(broker)).failed, 'down').length >= 2, 5000, 'two refused attempts');
    const down = await rec(9, ok, downPort);

    const terminal = async () => {
      const o = await outcomes(broker);
      return sites.every((s) => bySite(o.delivered, s.id).length + bySite(o.abandoned, s.id).length === 1);
    };
    await until(terminal, 8000, 'every delivery finished');
    const o = await outcomes(broker);
    const deliveredTo = (id: string) => bySite(o.delivered, id)[0];
    const abandonedAt = (id: string) => bySite(o.abandoned, id)[0];
    const failures = (id: string) => bySite(o.failed, id);

    expect(deliveredTo('healthy')).toMatchObject({ attempt: 1, status: 200 });
    expect(healthy.received).toHaveLength(1);
    expect(failures('down').every((f) => f.error === 'connection_refused' && f.nextAttemptAt)).toBe(true);
    expect(deliveredTo('down').attempt).toBe(failures('down').length + 1);
    expect(failures('slow')[0]).toMatchObject({ attempt: 1, error: 'timeout' });
    expect(deliveredTo('slow')).toMatchObject({ attempt: 2 });
    expect(failures('flaky')).toMatchObject([{ attempt: 1, status: 500, error: 'http_500' }]);
    expect(deliveredTo('flaky')).toMatchObject({ attempt: 2, status: 200 });
    expect(abandonedAt('gone')).toMatchObject({ reason: 'endpoint_gone', attempts: 1 });
    expect(await eventsOf(broker.store, 'WebhookEndpointDisabled')).toHaveLength(1);
    expect(abandonedAt('redirect')).toMatchObject({ reason: 'redirect_not_followed_302' });
    expect(trap.received).toHaveLength(0);
    expect(redirect.received).toHaveLength(1);
    expect(failures('closer')[0]).toMatchObject({ attempt: 1, status: null, error: 'connection_closed' });
    expect(deliveredTo('closer').attempt).toBe(2);
    expect(failures('limited')[0]).toMatchObject({ attempt: 1, status: 429 });
    expect(limited.received[1].at - limited.received[0].at).toBeGreaterThanOrEqual(950);
    expect(abandonedAt('bad')).toMatchObject({ reason: 'http_400', attempts: 1 });
    expect(bad.received).toHaveLength(1);

    // Every request that reached a receiver was signed, verifiable, and carried the ban's id.
    for (const r of [healthy, slow, flaky, gone, redirect, closer, limited, bad, down]) {
      expect(r.received.length).toBeGreaterThan(0);
      expect(r.received.every((x) => x.verified === true && x.headers['webhook-id'] === ban.id)).toBe(true);
    }

    // The 410 disabled the endpoint: the next ban is not sent there at all.
    const before = gone.received.length;
    const second = await banSomeone(broker);
    await until(
      async () =>
        (await outcomes(broker)).abandoned.some(
          (e) => (e.data as Data).siteId === 'gone' && (e.data as { banEventId: string }).banEventId === second.ban.id,
        ),
      5000,
      'second ban abandoned for the gone site',
    );
    expect(gone.received.length).toBe(before);
    expect(
      (await outcomes(broker)).abandoned.find(
        (e) => (e.data as { banEventId: string }).banEventId === second.ban.id && (e.data as Data).siteId === 'gone',
      )!.data,
    ).toMatchObject({ reason: 'endpoint_disabled' });
  });

  it('gives up at the retry horizon, after at least the one retry the seed asks for', async () => {
    const down = await rec(0, (_n, _q, res) => void res.writeHead(503).end());
    const broker = await bootWith([site('s', down.url, secretFor(0))], {
      ...fastConfig,
      retry: { initialDelayMs: 20, maxDelayMs: 40, horizonMs: 1 },
    });
    cleanup.push(() => broker.stop());
    await banSomeone(broker);
    await until(async () => (await eventsOf(broker.store, 'BanNotificationAbandoned')).length === 1, 5000, 'abandoned');
    expect((await eventsOf(broker.store, 'BanNotificationAbandoned'))[0].data).toMatchObject({
      reason: 'retry_horizon_exceeded',
      attempts: 2,
    });
    expect(down.received).toHaveLength(2);
  });

  it('refuses a webhook URL on a private address unless config allows it, by literal IP and by name', async () => {
    const r = await rec(0);
    const broker = await bootWith(
      [
        site('metadata', 'http://169.254.169.254/latest', secretFor(1)),
        site('loop', r.url, secretFor(0)),
        site('byname', r.url.replace('127.0.0.1', 'localhost'), secretFor(0)),
      ],
      { ...fastConfig, allowPrivateAddresses: [] },
    );
    cleanup.push(() => broker.stop());
    await banSomeone(broker);
    await until(async () => (await eventsOf(broker.store, 'BanNotificationAbandoned')).length === 3, 5000, 'three refusals');
    const reasons = (await eventsOf(broker.store, 'BanNotificationAbandoned')).map((e) => (e.data as Data).reason);
    expect(reasons).toEqual(['private_address_refused', 'private_address_refused', 'private_address_refused']);
    expect(r.received).toHaveLength(0);
  });
});
