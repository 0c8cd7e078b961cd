/**
 * Password reset by mail (issue 20, item 2) over real sockets with a real SMTP server in-process:
 * the same answer whether or not the address has an account, a one-time link that expires, a
 * throttle per account, and the new password working where the old one stops.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, field } from '../../helpers/cookie-jar.js';
import { startBroker, TEST_ARGON2, waitUntil, type TestBroker } from '../../helpers/broker.js';
import { startSmtp, type CapturedMail } from '../../helpers/smtp.js';
import { passwordStep, register } from './flows.js';

describe('password reset by mail', () => {
  let t: TestBroker;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  beforeAll(async () => {
    smtp = await startSmtp();
    t = await startBroker({
      plugins: [
        { name: 'password-login', config: { argon2: TEST_ARGON2, selfRegistration: true, rateLimit: { max: 1000, windowSeconds: 60 } } },
      ],
      config: { mail: { url: smtp.url, from: 'Broker <login@example.com>' } },
    });
    await register(client(t.url), 'ann@example.com', 'first password 1', 'Ann');
    expect(t.broker.read.users.findByEmail('ann@example.com')).toBeDefined();
  });
  afterAll(async () => {
    await t.stop();
    await smtp.close();
  });

  async function forgot(email: string) {
    const c = client(t.url);
    const form = await c.get('/password/forgot');
    return c.postForm('/password/forgot', { _csrf: field(form.body, '_csrf'), email });
  }
  const mailsTo = (to: string): CapturedMail[] => smtp.mails.filter((m) => m.to.includes(to));
  const withoutCsrf = (body: string) => body.replace(/name="_csrf" value="[^"]*"/, '');

  it('answers an unknown address exactly like a known one, and mails only the known one', async () => {
    const known = await forgot('ann@example.com');
    const unknown = await forgot('nobody@example.com');
    expect([known.res.status, unknown.res.status]).toEqual([200, 200]);
    expect(withoutCsrf(known.body)).toBe(withoutCsrf(unknown.body));
    await waitUntil(() => mailsTo('ann@example.com').length === 1, 5000, 'the reset mail');
    expect(mailsTo('nobody@example.com')).toEqual([]);
    expect(mailsTo('ann@example.com')[0].raw).toMatch(/Subject: Reset your password/);
  });

  it('the link sets a new password once; the old password stops working; a reused, tampered or expired link is a 410', async () => {
    const link = new URL(mailsTo('ann@example.com')[0].link!);
    const c = client(t.url);
    const page = await c.get(link.pathname + link.search);
    expect(page.res.status).toBe(200);
    const set = await c.postForm('/password/set', {
      _csrf: field(page.body, '_csrf'),
      token: field(page.body, 'token'),
      password: 'second password 2',
    });
    expect(set.res.status).toBe(200);
    expect(set.body).toContain('Your password is set');
    const oldPw = client(t.url);
    expect((await passwordStep(oldPw, 'ann@example.com', 'first password 1')).res.status).toBe(401);
    const newPw = client(t.url);
    await passwordStep(newPw, 'ann@example.com', 'second password 2');
    expect(newPw.jar.cookies.has('broker_session')).toBe(true);
    expect(oldPw.jar.cookies.has('broker_session')).toBe(false);

    expect((await c.get(link.pathname + link.search)).res.status).toBe(410);
    const again = await c.postForm('/password/set', {
      _csrf: field(page.body, '_csrf'),
      token: field(page.body, 'token'),
      password: 'third password 3',
    });
    expect(again.res.status).toBe(410);
    const token = link.searchParams.get('token')!;
    expect((await c.get(`/password/set?token=${encodeURIComponent(token.slice(0, -2) + 'AA')}`)).res.status).toBe(410);
    expect((await c.get('/password/set?token=garbage')).res.status).toBe(410);

    await forgot('ann@example.com');
    await waitUntil(() => mailsTo('ann@example.com').length === 2, 5000, 'a second reset mail');
    t.clock.advance(31 * 60 * 1000);
    const late = new URL(mailsTo('ann@example.com')[1].link!);
    const expired = await c.get(late.pathname + late.search);
    expect(expired.res.status).toBe(410);
    expect(expired.body).toContain('Ask for a new one');
    const used = (await t.broker.store.readAll({ limit: 1000 })).filter((e) => e.type === 'PasswordLinkUsed');
    expect(used).toHaveLength(1);
  });

  it('sends at most three reset mails per account per hour', async () => {
    t.clock.advance(2 * 3600 * 1000); // the earlier tests' links are out of this hour's budget
    const before = mailsTo('ann@example.com').length;
    for (let i = 0; i < 5; i++) expect((await forgot('ann@example.com')).res.status).toBe(200);
    await waitUntil(
      async () => (await t.broker.store.readAll({ limit: 1000 })).filter((e) => e.type === 'PasswordLinkIssued').length >= 2 + 3,
      5000,
      'links issued',
    );
    await waitUntil(() => mailsTo('ann@example.com').length === before + 3, 5000, 'three mails');
    await waitUntil(
      () => t.logs.filter((l) => l.msg === 'password reset: hourly limit reached, no mail sent').length === 2,
      5000,
      'two refusals logged',
    );
    expect(mailsTo('ann@example.com').length).toBe(before + 3);
  });
});
