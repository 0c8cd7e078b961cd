import fs from 'node:fs';
import { describe, it, expect, afterEach } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { client } from '../helpers/cookie-jar.js';
import { startBroker, TEST_ARGON2, type TestBroker } from '../helpers/broker.js';
import { register, totpCode } from '../plugins/password-login/flows.js';
import { setupPath } from '../plugins/admin/setup-flow.js';

const CHROMIUM = '/usr/bin/chromium';
const required = process.env.BROKER_REQUIRE_EXTERNAL === '1';
const available = fs.existsSync(CHROMIUM);
if (!available && !required) console.warn(`[e2e] skipped: ${CHROMIUM} not found (set BROKER_REQUIRE_EXTERNAL=1 to make this a failure)`);

describe.skipIf(!available && !required)('e2e in Chromium: first-run setup, admin login, ban from the admin page', () => {
  let t: TestBroker | undefined;
  let browser: Browser | undefined;
  afterEach(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('creates the first admin, logs in with password + TOTP and bans a user; the ban is in the log and the session is dead', async () => {
    if (!available) throw new Error(`${CHROMIUM} is required (BROKER_REQUIRE_EXTERNAL=1) but absent`);
    t = await startBroker({
      plugins: [
        { name: 'password-login', config: { argon2: TEST_ARGON2, selfRegistration: true } },
        { name: 'admin', config: { argon2: TEST_ARGON2, setup: { printToStdout: false } } },
      ],
    });
    const victim = client(t.url);
    await register(victim, 'victim@example.com', 'victim password 1', 'Victim');
    expect((await victim.request('/')).status).toBe(200);

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
    const page = await browser.newPage();
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });

    // First-run setup from the printed URL.
    await page.goto(t.url + setupPath(t));
    const setupSecret = (await page.getByTestId('totp-secret').textContent())!.trim();
    expect(
      await page.locator('img[alt="QR code of this setup link"]').evaluate((img: HTMLImageElement) => img.naturalWidth),
    ).toBeGreaterThan(0);
    await page.fill('#email', 'admin@example.com');
    await page.fill('#name', 'Admin');
    await page.fill('#password', 'admin password 1');
    await page.fill('#code', totpCode(setupSecret, t.clock));
    await page.click('button[type=submit]');
    await page.getByText('Administrator created').waitFor();

    // Log in: password, then a fresh TOTP code.
    await page.click('text=Log in to the admin pages');
    await page.waitForURL(/\/password\/login\?lr=/);
    await page.fill('#email', 'admin@example.com');
    await page.fill('#password', 'admin password 1');
    await page.click('button[type=submit]');
    await page.getByText('Second factor').waitFor();
    t.clock.advance(30_000);
    await page.fill('#code', totpCode(setupSecret, t.clock));
    await page.click('button[type=submit]');
    await page.waitForURL(/\/admin\/users$/);

    // Find the victim and ban them from their page.
    await page.fill('#q', 'victim');
    await page.click('button[type=submit]');
    await page.click('text=victim@example.com');
    // Ban asks first (a confirmation page with the reason), then says what happened.
    await page.click('a[data-action=ban]');
    await page.fill('#reason', 'spam from the browser');
    await page.click('button[data-confirm=yes]');
    await page.getByTestId('status').filter({ hasText: 'banned' }).waitFor();
    expect(await page.getByTestId('flash').textContent()).toContain('User banned.');

    const victimId = t.broker.read.users.findByEmail('victim@example.com')!.userId;
    const adminId = t.broker.read.users.findByEmail('admin@example.com')!.userId;
    const log = await t.broker.store.readAll({ limit: 100000 });
    const ban = log.find((e) => e.type === 'UserBanned');
    expect(ban?.data).toMatchObject({ userId: victimId, reason: 'spam from the browser', actor: `admin:${adminId}` });
    expect(log.some((e) => e.type === 'SessionEnded' && (e.data as { userId: string }).userId === victimId)).toBe(true);
    expect((await victim.request('/')).status).toBe(303);
    expect(cspViolations).toEqual([]);
  });
});
