import { describe, it, expect, afterAll } from 'vitest';
import { pino } from 'pino';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import { testConfig } from '../../helpers/broker.js';
import { REDIRECT, SECRET, basic, pkce } from './harness.js';

const ISSUER = 'https://login.example';

/** Two broker nodes on one log: a code is single-use across them, and a revocation on one is seen by the other. */
describe('oauth-server across nodes', () => {
  const nodes: Broker[] = [];
  afterAll(async () => {
    for (const n of nodes) await n.stop();
  });

  it('lets exactly one node redeem a code when both race for it', async () => {
    const store = new MemoryEventStore();
    const cfg = testConfig({
      log: { level: 'silent' },
      plugins: [
        {
          name: 'oauth-server',
          config: { issuer: ISSUER, clients: [{ clientId: 'web', secret: SECRET, redirectUris: [REDIRECT], firstParty: true }] },
        },
      ],
    });
    for (let i = 0; i < 2; i++) {
      const b = await bootBroker(cfg, { store, logger: pino({ level: 'silent' }) });
      await b.ready();
      nodes.push(b);
    }
    const [a, b] = nodes;
    const { userId } = await a.users.register({ email: 'n@example.com' }, { actor: 'test' });
    const login = await a.login.complete({ issuer: 'test', subject: userId, userId, amr: ['pwd'] });
    await b.projections.waitFor(login.position);
    const { verifier, challenge } = pkce();
    const q = new URLSearchParams({
      client_id: 'web',
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const auth = await a.app.inject({ url: `/oauth/authorize?${q}`, headers: { cookie: `broker_session=${login.sessionToken}` } });
    expect(auth.statusCode).toBe(303);
    const code = new URL(auth.headers.location as string).searchParams.get('code')!;
    const redeem = (n: Broker) =>
      n.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { authorization: basic('web', SECRET), 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: REDIRECT,
          code_verifier: verifier,
        }).toString(),
      });
    const [ra, rb] = await Promise.all([redeem(a), redeem(b)]);
    expect([ra.statusCode, rb.statusCode].sort()).toEqual([200, 400]);
    const winner = ra.statusCode === 200 ? ra : rb;
    const loser = ra.statusCode === 200 ? rb : ra;
    expect(loser.json()).toMatchObject({ error: 'invalid_grant' });
    // The replay revoked the winner's grant, on both nodes.
    const token = winner.json().access_token as string;
    for (const n of nodes) {
      await n.projections.waitFor(await store.headPosition());
      const r = await n.app.inject({
        method: 'POST',
        url: '/oauth/introspect',
        headers: { authorization: basic('web', SECRET), 'content-type': 'application/x-www-form-urlencoded' },
        payload: `token=${token}`,
      });
      expect(r.json()).toEqual({ active: false });
    }
  });
});
