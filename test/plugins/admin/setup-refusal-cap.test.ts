import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { request } from 'undici';
import { startBroker, TEST_ARGON2, type TestBroker } from '../../helpers/broker.js';
import { REFUSAL_EVENTS_PER_SECOND } from '../../../plugins/admin/setup-routes.js';

// Found by test/fuzz/routes.test.ts: every GET /admin/setup with a guessed token was recorded as
// LoginFailed (the route has no rate limit), so anyone could grow the event log without bound.
describe('refused setup links in the event log', () => {
  let t: TestBroker;

  beforeAll(async () => {
    t = await startBroker({ plugins: [{ name: 'admin', config: { argon2: TEST_ARGON2, setup: { printUrl: false } } }] });
  });
  afterAll(() => t?.stop());

  const refusals = async () =>
    (await t.broker.store.readAll({ limit: 100_000 })).filter(
      (e) => e.type === 'LoginFailed' && (e.data as { issuer: string }).issuer === 'admin-setup',
    ).length;
  const guess = async (i: number) => {
    const res = await request(`${t.url}/admin/setup?token=guess-${i}`);
    await res.body.dump();
    return res.statusCode;
  };

  it('records at most REFUSAL_EVENTS_PER_SECOND per second, still refuses the rest, and counts them in the log', async () => {
    for (let i = 0; i < REFUSAL_EVENTS_PER_SECOND + 20; i++) expect(await guess(i)).toBe(404);
    expect(await refusals()).toBe(REFUSAL_EVENTS_PER_SECOND);

    t.clock.advance(1000);
    expect(await guess(0)).toBe(404);
    expect(await refusals()).toBe(REFUSAL_EVENTS_PER_SECOND + 1);
    expect(t.logs.find((l) => l.msg === 'setup link refusals not recorded as LoginFailed (rate cap)')).toMatchObject({ dropped: 20 });
  });
});
