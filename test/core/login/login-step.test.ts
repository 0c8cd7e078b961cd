import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginContinues, type RecordedEvent } from '../../../core/index.js';
import type { Plugin } from '../../../adapters/kernel/boot.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';

/**
 * `Enrichment.continueAt`: an enricher holds a login back for one more step (a second factor, an
 * enrolment). No session is opened and nothing is recorded; the browser is sent to the step; a
 * stronger identity later passes. Only same-site paths: never an open redirect.
 */
describe('login step (Enrichment.continueAt)', () => {
  let t: TestBroker;
  let userId: string;
  let target = '/step/here?x=1';
  const seenContext: unknown[] = [];
  const stepper: Plugin = {
    name: 'stepper',
    register(ctx) {
      // A plugin completes logins for its own identity provider only (and does not name the user:
      // the identity is linked to it).
      ctx.add.identityProvider({ id: 'test', displayName: 'Test', protocol: 'test', loginPath: () => '/test/finish' });
      ctx.add.enricher({
        name: 'stepper',
        async enrich({ identity, context }) {
          seenContext.push(context);
          return identity.amr.includes('hwk') ? {} : { continueAt: target };
        },
      });
      ctx.web.app.get<{ Querystring: { amr: string; lr?: string } }>('/test/finish', async (req, reply) =>
        ctx.web.finishLogin(req, reply, { issuer: 'test', subject: userId, amr: req.query.amr.split(',') }, req.query.lr, 'test'),
      );
    },
  };
  beforeAll(async () => {
    t = await startBroker({ extra: [{ plugin: stepper }] });
    ({ userId } = await t.broker.users.register({ email: 'step@example.com', name: 'Step' }, { actor: 'test' }));
    await t.broker.users.execute(userId, { type: 'linkIdentity', issuer: 'test', subject: userId }, { actor: 'test' });
  });
  afterAll(() => t.stop());
  const logins = async (): Promise<RecordedEvent[]> =>
    (await t.broker.store.readAll({ limit: 100_000 })).filter((e) => e.type === 'LoginSucceeded' || e.type === 'LoginFailed');

  it('sends the browser to the step with no session and nothing recorded; the enricher sees the idp and the login request', async () => {
    const before = (await logins()).length;
    const lr = t.broker.login.requests.encode({ protocol: 'return_to', params: { return_to: '/' } }, t.clock.now(), 'jti-step');
    const res = await fetch(`${t.url}/test/finish?amr=pwd&lr=${encodeURIComponent(lr)}`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/step/here?x=1');
    expect(res.headers.getSetCookie().some((c) => c.startsWith('broker_session='))).toBe(false);
    expect((await logins()).length).toBe(before);
    expect(seenContext.at(-1)).toMatchObject({ idp: 'test', loginRequest: lr });
    await expect(t.broker.login.complete({ issuer: 'test', subject: userId, userId, amr: ['pwd'] })).rejects.toBeInstanceOf(LoginContinues);
  });

  it('a stronger identity passes the step and opens the session', async () => {
    const res = await fetch(`${t.url}/test/finish?amr=pwd,hwk`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.getSetCookie().some((c) => c.startsWith('broker_session='))).toBe(true);
    expect((await logins()).at(-1)).toMatchObject({ type: 'LoginSucceeded', data: { userId, amr: ['pwd', 'hwk'] } });
  });

  it('a step that is not a same-site path is sent to / instead (no open redirect)', async () => {
    for (const bad of ['https://evil.example/x', '//evil.example/x', '/\\evil.example']) {
      target = bad;
      const res = await fetch(`${t.url}/test/finish?amr=pwd`, { redirect: 'manual' });
      expect(res.headers.get('location')).toBe('/');
    }
    target = '/step/here?x=1';
  });
});
