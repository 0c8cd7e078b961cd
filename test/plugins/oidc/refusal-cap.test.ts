import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { request } from 'undici';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { REFUSAL_EVENTS_PER_SECOND } from '../../../plugins/oidc/index.js';

// Found by test/fuzz/routes.test.ts: every anonymous junk callback was recorded as LoginFailed,
// so anyone could grow the event log without bound.
describe('OIDC refused callbacks in the event log', () => {
  let t: TestBroker;

  beforeAll(async () => {
    t = await startBroker({
      plugins: [
        { name: 'oidc', config: { idps: [{ name: 'corp', issuer: 'http://127.0.0.1:1', clientId: 'broker', allowInsecureIssuer: true }] } },
      ],
    });
  });
  afterAll(() => t?.stop());

  const refusals = async () => (await t.broker.store.readAll({ limit: 100_000 })).filter((e) => e.type === 'LoginFailed').length;
  const junkCallback = async (i: number) => {
    const res = await request(`${t.url}/oidc/corp/callback?code=c${i}&state=s${i}`);
    await res.body.dump();
    return res.statusCode;
  };

  it('records at most REFUSAL_EVENTS_PER_SECOND per second, still refuses the rest, and counts them in the log', async () => {
    for (let i = 0; i < REFUSAL_EVENTS_PER_SECOND + 20; i++) expect(await junkCallback(i)).toBe(400);
    expect(await refusals()).toBe(REFUSAL_EVENTS_PER_SECOND);

    t.clock.advance(1000);
    expect(await junkCallback(0)).toBe(400);
    expect(await refusals()).toBe(REFUSAL_EVENTS_PER_SECOND + 1);
    expect(t.logs.find((l) => l.msg === 'OIDC refusals not recorded as LoginFailed (rate cap)')).toMatchObject({ dropped: 20 });
  });
});
