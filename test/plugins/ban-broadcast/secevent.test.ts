import { describe, it, expect, afterEach } from 'vitest';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import plugin from '../../../plugins/ban-broadcast/index.js';
import { RISC_ACCOUNT_DISABLED, CAEP_SESSION_REVOKED, RISC_ACCOUNT_ENABLED } from '../../../plugins/ban-broadcast/set-token.js';
import { startReceiver, until, type Receiver } from './receivers.js';
import { brokerConfig, fastConfig, banSomeone, eventsOf } from './setup.js';

describe('ban broadcast: Security Event Tokens (RFC 8417) pushed per RFC 8935', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('pushes a SET signed with the broker key, verified with jose against the broker JWKS; 202 is success; a 400 error body is recorded', async () => {
    const accepting: Receiver = await startReceiver(null, (_n, _q, res) => void res.writeHead(202).end());
    const refusing: Receiver = await startReceiver(
      null,
      (_n, _q, res) =>
        void res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ err: 'invalid_audience', description: 'aud is not us' })),
    );
    cleanup.push(
      () => accepting.close(),
      () => refusing.close(),
    );
    const config = brokerConfig([
      { id: 'rp', name: 'rp', returnUrls: [], webhook: { url: accepting.url, format: 'secevent', audience: 'https://rp.example.com' } },
      { id: 'picky', name: 'picky', returnUrls: [], webhook: { url: refusing.url, format: 'secevent' } },
    ]);
    const broker: Broker = await bootBroker(config, { store: new MemoryEventStore(), plugins: [{ plugin, config: fastConfig }] });
    cleanup.push(() => broker.stop());
    const base = await broker.listen();
    const jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));

    const { userId, ban } = await banSomeone(broker, 'fraud', 'sub-7');
    await until(
      async () =>
        (await eventsOf(broker.store, 'BanNotificationDelivered')).length === 1 &&
        (await eventsOf(broker.store, 'BanNotificationAbandoned')).length === 1,
      5000,
      'both outcomes',
    );

    const got = accepting.received[0];
    expect(got.headers['content-type']).toBe('application/secevent+jwt');
    expect(decodeProtectedHeader(got.body).typ).toBe('secevent+jwt');
    const { payload } = await jwtVerify(got.body, jwks, {
      issuer: config.server.baseUrl,
      audience: 'https://rp.example.com',
      typ: 'secevent+jwt',
    });
    expect(payload.jti).toBe(ban.id);
    const subject = {
      format: 'aliases',
      identifiers: [
        { format: 'iss_sub', iss: config.server.baseUrl, sub: userId },
        { format: 'iss_sub', iss: 'https://idp.example.com', sub: 'sub-7' },
      ],
    };
    expect(payload.sub_id).toEqual(subject);
    const events = payload.events as Record<string, Record<string, unknown>>;
    expect(Object.keys(events).sort()).toEqual([CAEP_SESSION_REVOKED, RISC_ACCOUNT_DISABLED].sort());
    expect(events[RISC_ACCOUNT_DISABLED].subject).toEqual(subject);

    expect((await eventsOf(broker.store, 'BanNotificationDelivered'))[0].data).toMatchObject({
      siteId: 'rp',
      status: 202,
      format: 'secevent',
    });
    const failed = (await eventsOf(broker.store, 'BanNotificationFailed'))[0].data;
    expect(failed).toMatchObject({
      siteId: 'picky',
      status: 400,
      nextAttemptAt: null,
      receiverError: { err: 'invalid_audience', description: 'aud is not us' },
    });
    // The default audience is the site id.
    const { payload: p2 } = await jwtVerify(refusing.received[0].body, jwks, { audience: 'picky', typ: 'secevent+jwt' });
    expect(p2.jti).toBe(ban.id);

    await broker.users.execute(userId, { type: 'unban', reason: null, actor: 'admin:root' }, { actor: 'admin:root' });
    await until(() => accepting.received.length === 2, 5000, 'the unban SET');
    const { payload: p3 } = await jwtVerify(accepting.received[1].body, jwks, { audience: 'https://rp.example.com', typ: 'secevent+jwt' });
    expect(Object.keys(p3.events as object)).toEqual([RISC_ACCOUNT_ENABLED]);
  });
});
