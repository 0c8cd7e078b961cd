import { describe, it, expect, afterEach } from 'vitest';
import { sessionCsrfToken } from '../../../adapters/http/session-csrf.js';
import type { Broker } from '../../../adapters/kernel/boot.js';
import { startReceiver, until, secretFor } from './receivers.js';
import { bootWith, site, banSomeone, eventsOf } from './setup.js';

async function sessionFor(broker: Broker, admin: boolean): Promise<string> {
  const { userId } = await broker.users.register(
    { email: `${admin ? 'admin' : 'user'}-${Math.random()}@example.com`, admin },
    { actor: 'test' },
  );
  return (await broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] })).sessionToken;
}

describe('ban broadcast: operators', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('shows admins who acknowledged and who gave up, refuses others, and re-queues one delivery on a CSRF-checked POST', async () => {
    const okSite = await startReceiver(secretFor(0));
    const badSite = await startReceiver(secretFor(1), (n, _q, res) => void res.writeHead(n === 0 ? 404 : 200).end());
    cleanup.push(
      () => okSite.close(),
      () => badSite.close(),
    );
    const broker = await bootWith([site('good', okSite.url, secretFor(0)), site('bad', badSite.url, secretFor(1))]);
    cleanup.push(() => broker.stop());
    const { ban } = await banSomeone(broker);
    await until(
      async () => (await eventsOf(broker.store, 'BanNotificationAbandoned')).length === 1 && okSite.acked.length === 1,
      5000,
      'outcomes',
    );

    const user = await sessionFor(broker, false);
    const forbidden = await broker.app.inject({ url: '/admin/bans', cookies: { broker_session: user } });
    expect(forbidden.statusCode).toBe(403);
    expect((await broker.app.inject({ url: '/admin/bans' })).statusCode).toBe(303);

    const admin = await sessionFor(broker, true);
    await until(
      async () => /gave up/.test((await broker.app.inject({ url: '/admin/bans', cookies: { broker_session: admin } })).body),
      2000,
      'page shows the give-up',
    );
    const page = await broker.app.inject({ url: '/admin/bans', cookies: { broker_session: admin } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(ban.id);
    expect(page.body).toMatch(/good<\/td><td>acknowledged /);
    expect(page.body).toMatch(/bad<\/td><td>gave up after 1 attempt\(s\): http_404/);

    const form = { banEventId: ban.id, siteId: 'bad' };
    const noCsrf = await broker.app.inject({
      method: 'POST',
      url: '/admin/bans/redeliver',
      cookies: { broker_session: admin },
      payload: form,
    });
    expect(noCsrf.statusCode).toBe(403);
    const asUser = await broker.app.inject({
      method: 'POST',
      url: '/admin/bans/redeliver',
      cookies: { broker_session: user },
      payload: { ...form, _csrf: sessionCsrfToken(user) },
    });
    expect(asUser.statusCode).toBe(403);
    expect(badSite.received).toHaveLength(1);

    const redo = await broker.app.inject({
      method: 'POST',
      url: '/admin/bans/redeliver',
      cookies: { broker_session: admin },
      payload: { ...form, _csrf: sessionCsrfToken(admin) },
    });
    expect(redo.statusCode).toBe(303);
    await until(() => badSite.acked.length === 1, 5000, 'the redelivery');
    expect(badSite.received[1].headers['webhook-id']).toBe(ban.id);
    expect(badSite.received[1].verified).toBe(true);
    await until(
      async () =>
        /bad<\/td><td>acknowledged /.test((await broker.app.inject({ url: '/admin/bans', cookies: { broker_session: admin } })).body),
      2000,
      'page shows the redelivery',
    );
    expect(okSite.received).toHaveLength(1);
  });
});
