import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { client, field } from '../../helpers/cookie-jar.js';
import { startBroker, TEST_ARGON2, type TestBroker } from '../../helpers/broker.js';
import { createPasswordUser } from '../../helpers/users.js';
import { passwordStep, totpCode, totpStep } from './flows.js';

const PW = 'bad input password';

describe('password login: malformed, tampered, expired and oversized input', () => {
  let t: TestBroker;
  let secret: string;
  beforeEach(async () => {
    t = await startBroker({ plugins: [{ name: 'password-login', config: { argon2: TEST_ARGON2 } }] });
    secret = (await createPasswordUser(t.broker, { email: 'bad@example.com', password: PW, totp: true })).totpSecret!;
  });
  afterEach(async () => t.stop());

  it('refuses a tampered, a malformed and an expired second-step ticket with 400, never a session', async () => {
    const c = client(t.url);
    const s1 = await passwordStep(c, 'bad@example.com', PW);
    const ticket = field(s1.body, 'ticket');
    const post = (tk: string) =>
      c.postForm('/password/totp', { _csrf: field(s1.body, '_csrf'), ticket: tk, code: totpCode(secret, t.clock) });
    const [body, mac] = ticket.split('.');
    const forgedBody = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), uid: 'someone-else' }),
    ).toString('base64url');
    expect((await post(`${forgedBody}.${mac}`)).res.status).toBe(400);
    expect((await post('garbage')).res.status).toBe(400);
    expect((await post('')).res.status).toBe(400);
    t.clock.advance(301_000);
    const expired = await totpStep(c, s1.body, totpCode(secret, t.clock));
    expect(expired.res.status).toBe(400);
    expect(expired.body).toContain('took too long');
    expect(c.jar.cookies.has('broker_session')).toBe(false);
  });

  it('refuses a second-step ticket replayed after the login it completed, even with a fresh code (another browser)', async () => {
    const c = client(t.url);
    const s1 = await passwordStep(c, 'bad@example.com', PW);
    const ok = await totpStep(c, s1.body, totpCode(secret, t.clock));
    expect(new URL(ok.url).pathname).toBe('/');
    const logins = async () => (await t.broker.store.readAll({ limit: 100000 })).filter((e) => e.type === 'LoginSucceeded').length;
    expect(await logins()).toBe(1);

    // The captured ticket, a code from the next step (the first is spent), a browser of its own.
    t.clock.advance(30_000);
    const thief = client(t.url);
    const form = await thief.get('/password/login?return_to=/');
    const replay = await thief.postForm('/password/totp', {
      _csrf: field(form.body, '_csrf'),
      ticket: field(s1.body, 'ticket'),
      code: totpCode(secret, t.clock),
    });
    expect(replay.res.status).toBe(400);
    expect(replay.body).toContain('already used');
    expect(thief.jar.cookies.has('broker_session')).toBe(false);
    expect(await logins()).toBe(1);
  });

  it('refuses an oversized password or email and missing fields with 400 pages', async () => {
    const c = client(t.url);
    const form = await c.get('/password/login?return_to=/');
    const base = { _csrf: field(form.body, '_csrf'), lr: field(form.body, 'lr') };
    const huge = await c.postForm('/password/login', { ...base, email: 'bad@example.com', password: 'x'.repeat(5000) });
    expect(huge.res.status).toBe(400);
    const longEmail = await c.postForm('/password/login', { ...base, email: `${'a'.repeat(400)}@example.com`, password: PW });
    expect(longEmail.res.status).toBe(400);
    const missing = await c.postForm('/password/login', { ...base, email: 'bad@example.com' });
    expect(missing.res.status).toBe(400);
    const badLr = await c.postForm('/password/login', { ...base, lr: base.lr + 'x', email: 'bad@example.com', password: PW });
    expect(badLr.res.status).toBe(400);
  });

  it('refuses TOTP enrollment without a session, a tampered enrollment form, and a second enrollment', async () => {
    const anon = await client(t.url).request('/password/totp/enroll');
    expect(anon.status).toBe(303);
    await createPasswordUser(t.broker, { email: 'plain@example.com', password: PW });
    const c = client(t.url);
    await passwordStep(c, 'plain@example.com', PW);
    const page = await c.get('/password/totp/enroll');
    const sealed = field(page.body, 'sealed');
    const post = (over: Record<string, string>) =>
      c.postForm('/password/totp/enroll', { _csrf: field(page.body, '_csrf'), sealed, code: '000000', ...over });
    const tampered = await post({ sealed: sealed.slice(0, -6) + 'AAAAAA' });
    expect(tampered.res.status).toBe(400);
    expect(tampered.body).toContain('tampered');
    const other = client(t.url);
    await passwordStep(other, 'bad@example.com', PW).then((s1) => totpStep(other, s1.body, totpCode(secret, t.clock)));
    const wrongCode = await post({ code: '12' });
    expect(wrongCode.res.status).toBe(400);
    expect(t.broker.read.users.findByEmail('plain@example.com')!.hasTotp).toBe(false);
    const s2 = await other.get('/password/totp/enroll');
    expect(s2.body).toContain('already on');
  });
});
