import http from 'node:http';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { TOKENS } from '../../../adapters/kernel/tokens.js';
import type { Reactor } from '../../../core/index.js';
import { waitUntil } from '../../helpers/broker.js';
import { CLIENTS, codeFlow, startOAuth, type Harness } from './harness.js';

describe('oauth-server: back-channel logout delivery', () => {
  let h: Harness;
  let server: http.Server;
  /** Status to answer per request, in order; then 200. */
  const script: number[] = [];
  let hits = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        hits++;
        res.writeHead(script.shift() ?? 200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    h = await startOAuth(CLIENTS.map((c) => (c.clientId === 'web' ? { ...c, backchannelLogoutUri: `http://127.0.0.1:${port}/bcl` } : c)));
    const reactor = h.broker.container
      .getAll<Reactor & { delays?: number[] }>(TOKENS.Reactor)
      .find((r) => r.name === 'oauth-server.backchannel-logout')!;
    reactor.delays = [0, 20, 20];
    for (const e of ['a', 'b']) await h.user(`${e}@example.com`);
  });
  afterAll(async () => {
    await h.stop();
    server.close();
  });

  const outcomes = async () =>
    (await h.broker.store.readAll({ limit: 100000 }))
      .filter((e) => e.type === 'BackChannelLogoutDelivered' || e.type === 'BackChannelLogoutFailed')
      .map((e) => ({ type: e.type, ...(e.data as object) }));

  it('retries a failed delivery and records the outcome; gives up after three attempts', async () => {
    const t = await codeFlow(h, h.browser(), { email: 'a@example.com' });
    script.push(500);
    await h.broker.login.endSession(h.keys.verifySync(t.access_token as string).sid as string, 'logout', 'test');
    await waitUntil(async () => (await outcomes()).length === 1, 5000, 'first outcome');
    expect((await outcomes())[0]).toMatchObject({ type: 'BackChannelLogoutDelivered', clientId: 'web', attempts: 2 });

    const t2 = await codeFlow(h, h.browser(), { email: 'b@example.com' });
    script.push(500, 503, 500);
    const before = hits;
    await h.broker.login.endSession(h.keys.verifySync(t2.access_token as string).sid as string, 'logout', 'test');
    await waitUntil(async () => (await outcomes()).length === 2, 5000, 'second outcome');
    expect((await outcomes())[1]).toMatchObject({ type: 'BackChannelLogoutFailed', clientId: 'web', attempts: 3, error: 'HTTP 500' });
    expect(hits - before).toBe(3);
  });
});
