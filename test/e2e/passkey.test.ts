/**
 * Passkeys in a real Chromium with a CDP virtual authenticator (ctap2, internal, resident keys,
 * user verification): register from the account page after a password login, log out, log in
 * with the passkey alone (no user name), a password then the passkey as second factor, a cloned credential (its counter reset) refused and
 * recorded, a banned user refused, and the admin policy (require: admins) enforced.
 */
import fs from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { PasswordHasher } from '../../adapters/crypto/password-hasher.js';
import { startBroker, TEST_ARGON2, type TestBroker } from '../helpers/broker.js';
import type { RecordedEvent } from '../../core/index.js';

const CHROMIUM = '/usr/bin/chromium';
const required = process.env.BROKER_REQUIRE_EXTERNAL === '1';
const available = fs.existsSync(CHROMIUM);
if (!available && !required) console.warn(`[e2e] skipped: ${CHROMIUM} not found (set BROKER_REQUIRE_EXTERNAL=1 to make this a failure)`);

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe.skipIf(!available && !required)('e2e in Chromium: passkeys with a virtual authenticator', () => {
  let t: TestBroker;
  let browser: Browser;
  let base: string;
  const PW = 'correct horse battery';
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    if (!available) throw new Error(`${CHROMIUM} is required (BROKER_REQUIRE_EXTERNAL=1) but absent`);
    const port = await freePort();
    // WebAuthn needs a secure context: http is allowed on localhost only, and the RP ID is its name.
    base = `http://localhost:${port}`;
    t = await startBroker({
      plugins: [
        { name: 'password-login', config: { argon2: TEST_ARGON2 } },
        { name: 'passkey', config: { require: 'admins' } },
      ],
      config: { server: { host: '127.0.0.1', port, baseUrl: base, trustProxy: false, insecureCookies: true } },
    });
    const hasher = new PasswordHasher(TEST_ARGON2);
    for (const [key, email, admin] of [
      ['alice', 'alice@example.com', false],
      ['bob', 'bob@example.com', true],
    ] as const) {
      const { userId } = await t.broker.users.register({ email, name: key, ...(admin ? { admin: true } : {}) }, { actor: 'test' });
      const r = await t.broker.users.execute(userId, { type: 'setPassword', passwordHash: await hasher.hash(PW) }, { actor: 'test' });
      await t.broker.projections.waitFor(r.position);
      ids[key] = userId;
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  const events = async (type: string): Promise<RecordedEvent[]> =>
    (await t.broker.store.readAll({ limit: 100_000 })).filter((e) => e.type === type);

  /** A browser profile with its own virtual platform authenticator that answers without a prompt. */
  async function profile(): Promise<{ ctx: BrowserContext; page: Page; cdp: CDPSession; authenticatorId: string; csp: string[] }> {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const csp: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
    });
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('WebAuthn.enable', { enableUI: false });
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    return { ctx, page, cdp, authenticatorId, csp };
  }

  async function passwordLogin(page: Page, email: string): Promise<void> {
    await page.goto(`${base}/`);
    await page.click('text=Email and password');
    await page.fill('#email', email);
    await page.fill('#password', PW);
    await page.click('button[type=submit]');
  }
  /** From the account page (`/`), its Passkeys link, then "Add a passkey". */
  async function addPasskey(page: Page, name: string): Promise<void> {
    await page.waitForURL(`${base}/`);
    await page.click('a[href="/passkey/manage"]');
    await page.fill('#passkey-name', name);
    await page.click('#passkey-add');
    await page.getByText('Passkey added').waitFor({ timeout: 10_000 });
  }
  async function logOut(page: Page): Promise<void> {
    await page.goto(`${base}/`);
    await page.click('form[action="/logout"] button');
    await page.getByText('You are logged out').waitFor();
  }
  /** The login chooser's "Passkey", then its button: no email typed. */
  async function passkeyLogin(page: Page): Promise<void> {
    await page.goto(`${base}/`);
    await page.click('text=Passkey');
    await page.waitForURL(/\/passkey\/login\?lr=/);
    await page.click('#passkey-login-button');
  }
  const onAccountPage = (page: Page) => page.getByRole('heading', { name: 'Your account' }).waitFor({ timeout: 10_000 });
  /** Puts the authenticator's (only) credential back with another signature counter: a clone, or a later use. */
  async function setCounter(cdp: CDPSession, authenticatorId: string, signCount: number): Promise<void> {
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId: credentials[0].credentialId });
    await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: { ...credentials[0], signCount } });
  }

  it(
    'registers a passkey from the account page, logs in with it alone, as a second factor; a clone is refused and recorded; a ban applies',
    { timeout: 90_000 },
    async () => {
      const { page, cdp, authenticatorId, csp } = await profile();
      await passwordLogin(page, 'alice@example.com');
      await addPasskey(page, 'Laptop');
      const [registered] = await events('PasskeyRegistered');
      expect(registered.data).toMatchObject({ userId: ids.alice, name: 'Laptop', deviceType: expect.any(String) });
      expect(await page.locator('tr[data-credential] td').first().textContent()).toBe('Laptop');

      // Log out, then the passkey alone: no email typed.
      await logOut(page);
      await passkeyLogin(page);
      await onAccountPage(page);
      const logins = (await events('LoginSucceeded')).filter((e) => (e.data as { issuer: string }).issuer === 'passkey');
      expect(logins.map((e) => (e.data as { userId: string; amr: string[] }).userId)).toEqual([ids.alice]);
      expect((await events('PasskeyUsed')).length).toBe(1);

      // A password login now asks for the passkey as the second factor.
      await logOut(page);
      await passwordLogin(page, 'alice@example.com');
      await page.waitForURL(/\/passkey\/step\?t=/);
      await page.click('#passkey-step-button');
      await onAccountPage(page);
      expect((await events('LoginSucceeded')).at(-1)!.data).toMatchObject({
        issuer: 'password',
        userId: ids.alice,
        amr: ['pwd', 'hwk', 'mfa'],
      });

      // A cloned authenticator: same key, counter set back. Refused, and recorded.
      const stored = ((await events('PasskeyUsed')).at(-1)!.data as { counter: number }).counter;
      expect(stored).toBeGreaterThan(0);
      await setCounter(cdp, authenticatorId, 0);
      await logOut(page);
      await passkeyLogin(page);
      await page.getByText('looks cloned').waitFor();
      expect((await events('PasskeyCounterRejected')).map((e) => e.data)).toEqual([
        expect.objectContaining({ userId: ids.alice, credentialId: (registered.data as { credentialId: string }).credentialId, stored }),
      ]);
      expect((await events('LoginFailed')).some((e) => (e.data as { reason: string }).reason === 'passkey_counter')).toBe(true);

      // Banned: the orchestration refuses it whichever way the user proves who they are.
      await setCounter(cdp, authenticatorId, 1000);
      const ban = await t.broker.users.execute(ids.alice, { type: 'ban', reason: 'e2e', actor: 'admin:test' }, { actor: 'admin:test' });
      await t.broker.projections.waitFor(ban.position);
      await passkeyLogin(page);
      await page.getByRole('heading', { name: 'Account banned' }).waitFor();
      expect(
        (await events('LoginFailed')).some(
          (e) => (e.data as { reason: string; userId: string }).reason === 'banned' && (e.data as { userId: string }).userId === ids.alice,
        ),
      ).toBe(true);
      expect(csp).toEqual([]);
    },
  );

  it('admin policy: an admin without a passkey is sent to enrol, proves it, and then always needs it', { timeout: 60_000 }, async () => {
    const { page, csp } = await profile();
    await passwordLogin(page, 'bob@example.com');
    await page.getByRole('heading', { name: 'Add a passkey to continue' }).waitFor();
    expect((await events('LoginSucceeded')).some((e) => (e.data as { userId: string }).userId === ids.bob)).toBe(false);
    await page.fill('#passkey-name', 'Security key');
    await page.click('#passkey-enrol-button');
    await page.getByText('Passkey added. Now use it').waitFor();
    await page.click('#passkey-step-button');
    await onAccountPage(page);
    expect((await events('PasskeyRegistered')).some((e) => (e.data as { userId: string; name: string }).userId === ids.bob)).toBe(true);

    // Next time the password alone does not get in: the passkey is asked for.
    await logOut(page);
    await passwordLogin(page, 'bob@example.com');
    await page.getByRole('heading', { name: 'Confirm with your passkey' }).waitFor();
    await page.click('#passkey-step-button');
    await onAccountPage(page);
    const bobs = (await events('LoginSucceeded')).filter((e) => (e.data as { userId: string }).userId === ids.bob);
    expect(bobs.every((e) => (e.data as { amr: string[] }).amr.includes('hwk'))).toBe(true);
    expect(csp).toEqual([]);
  });
});
