/**
 * Issue 20's walk, in Chromium over the demo (its broker on SQLite with the console, its site):
 * first-run setup → invite a user by email (a real SMTP server in-process) → the user sets a
 * password from the mail → logs in on the demo site through the broker → an admin bans them from
 * the console, confirming → the site ends the session → the console shows the delivery.
 * Screenshots of each screen go to test-results/screenshots/walk-*.png.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ManualClock } from '../../core/index.js';
import { startDemo, type Demo } from '../../adapters/demo/main.js';
import { FIRST_RUN_SETUP, type FirstRunSetup } from '../../plugins/admin/first-run-setup.js';
import { totpCode } from '../plugins/password-login/flows.js';
import { startSmtp } from '../helpers/smtp.js';
import { waitUntil } from '../helpers/broker.js';

const CHROMIUM = '/usr/bin/chromium';
const required = process.env.BROKER_REQUIRE_EXTERNAL === '1';
const available = fs.existsSync(CHROMIUM);
if (!available && !required) console.warn(`[e2e] skipped: ${CHROMIUM} not found (set BROKER_REQUIRE_EXTERNAL=1 to make this a failure)`);
const SHOTS = path.resolve(__dirname, '../../test-results/screenshots');

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe.skipIf(!available && !required)('e2e in Chromium: the operator walk on the demo', () => {
  let demo: Demo | undefined;
  let browser: Browser | undefined;
  let smtp: Awaited<ReturnType<typeof startSmtp>> | undefined;
  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    await smtp?.close();
  });

  it(
    'setup, invite by mail, set a password, log in on the site, ban from the console, the site ends the session, the delivery shows',
    { timeout: 90_000 },
    async () => {
      if (!available) throw new Error(`${CHROMIUM} is required (BROKER_REQUIRE_EXTERNAL=1) but absent`);
      fs.mkdirSync(SHOTS, { recursive: true });
      smtp = await startSmtp();
      const clock = new ManualClock(Date.now());
      const port = await freePort();
      demo = await startDemo({
        brokerPort: port,
        sitePort: 0,
        brokerUrl: `http://127.0.0.1:${port}`,
        logLevel: 'silent',
        seedUsers: false,
        mail: { url: smtp.url, from: 'Broker <login@example.com>' },
        clock,
      });
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
      const csp: string[] = [];
      const open = async (): Promise<Page> => {
        const page = await (await browser!.newContext()).newPage();
        page.on('console', (m) => {
          if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
        });
        return page;
      };
      const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `walk-${name}.png`), fullPage: true });
      const admin = await open();

      // 1. First-run setup from the URL the admin plugin issued.
      const setupUrl = demo.broker.container.get<FirstRunSetup>(FIRST_RUN_SETUP).url!;
      await admin.goto(setupUrl);
      const secret = (await admin.getByTestId('totp-secret').textContent())!.trim();
      await admin.fill('#email', 'ops@example.com');
      await admin.fill('#name', 'Ops');
      await admin.fill('#password', 'ops password 1');
      await admin.fill('#code', totpCode(secret, clock));
      await shot(admin, '1-setup');
      await admin.click('button[type=submit]');
      await admin.getByText('Administrator created').waitFor();
      await admin.click('text=Log in to the admin pages');
      await admin.fill('#email', 'ops@example.com');
      await admin.fill('#password', 'ops password 1');
      await admin.click('button[type=submit]');
      await admin.getByText('Second factor').waitFor();
      clock.advance(30_000); // a fresh code: the setup's one cannot be replayed
      await admin.fill('#code', totpCode(secret, clock));
      await admin.click('button[type=submit]');
      await admin.waitForURL(/\/admin\/users$/);

      // 2. Invite by email from the console.
      await admin.click('a[data-action=invite]');
      await admin.fill('#invite-email', 'newbie@example.com');
      await admin.fill('#invite-name', 'Newbie');
      await shot(admin, '2-invite');
      await admin.click('button[type=submit]');
      await admin.getByTestId('invite-result').filter({ hasText: 'mailed to' }).waitFor();
      await waitUntil(() => smtp!.mails.some((m) => m.to.includes('newbie@example.com')), 10_000, 'the invitation mail');
      const mail = smtp.mails.find((m) => m.to.includes('newbie@example.com'))!;
      expect(mail.raw).toMatch(/Subject: You are invited/);

      // 3. The user follows the link and sets a password.
      const user = await open();
      await user.goto(mail.link!);
      await user.fill('#password', 'newbie password 1');
      await shot(user, '3-set-password');
      await user.click('button[type=submit]');
      await user.getByTestId('password-set').waitFor();

      // 4. They log in on the demo site through the broker.
      await user.goto(demo.siteUrl);
      await user.click('text=Log in with the broker');
      await user.fill('#email', 'newbie@example.com');
      await user.fill('#password', 'newbie password 1');
      await user.click('button[type=submit]');
      await user.getByText('Logged in as').waitFor();
      await shot(user, '4-site-logged-in');
      const userId = demo.broker.read.users.findByEmail('newbie@example.com')!.userId;

      // 5. The admin bans them from the console, confirming first.
      await admin.goto(`http://127.0.0.1:${port}/admin/users/${userId}`);
      await admin.click('a[data-action=ban]');
      await admin.fill('#reason', 'walk-through ban');
      await shot(admin, '5-confirm-ban');
      await admin.click('button[data-confirm=yes]');
      expect(await admin.getByTestId('flash').textContent()).toContain('User banned.');

      // 6. The site hears it and ends the session.
      await waitUntil(() => demo!.site.isBanned(userId), 10_000, 'the site to take the ban webhook');
      await user.reload();
      await user.getByText('You are not logged in').waitFor();
      await shot(user, '6-site-logged-out');

      // 7. The console shows the delivery.
      await waitUntil(
        async () => {
          await admin.reload();
          return (await admin.locator('[data-testid=delivery-status] .delivered').count()) > 0;
        },
        10_000,
        'the delivery on the user page',
      );
      await shot(admin, '7-delivered');
      expect(csp).toEqual([]);
    },
  );
});
