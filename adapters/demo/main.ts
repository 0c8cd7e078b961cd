// `npm run demo`: a broker (SQLite in a demo data folder, plain-http dev cookies) with the password
// form, the operator console, the signed handoff and the ban broadcast, plus a tiny downstream site
// that logs in through it and takes its ban webhooks. Everything here is a demo: demo passwords.
// `startDemo` is exported so tests run the same pieces in-process.
import { createHmac, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { request } from 'undici';
import { bootBroker, type Broker } from '../kernel/boot.js';
import { BUILTIN_PLUGINS } from '../kernel/builtin-plugins.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PasswordHasher } from '../crypto/password-hasher.js';
import type { BrokerConfig } from '../../config/types.js';
import type { Clock } from '../../core/index.js';
import { createDemoSite, DEMO_WEBHOOK_PATH, type DemoSite } from './demo-site.js';

export const DEMO_USER = { email: 'demo@example.test', name: 'Demo User', password: 'demo-password-1' };
export const DEMO_ADMIN = { email: 'admin@example.test', name: 'Demo Admin', password: 'demo-admin-password-1' };

export interface DemoOptions {
  /** 0 picks a free port; then give `brokerUrl` (the public URL cannot be known before listening). */
  brokerPort: number;
  sitePort: number;
  /** The broker's public URL (default `http://localhost:<brokerPort>`). */
  brokerUrl?: string;
  logLevel?: string;
  /** Another pino logger (tests). */
  logger?: Logger;
  /** Where the SQLite log lives (kept across runs); default a fresh temporary folder, removed at stop. */
  dataDir?: string;
  /** Create the demo user and admin (default); false leaves the broker at its first-run setup. */
  seedUsers?: boolean;
  /** Outgoing mail (invitations, resets); without it links are shown instead. */
  mail?: BrokerConfig['mail'];
  /** The broker's clock (tests). */
  clock?: Clock;
}

export interface Demo {
  broker: Broker;
  site: DemoSite;
  brokerUrl: string;
  /** Where the broker really listens (server-to-server calls go there). */
  brokerListenUrl: string;
  siteUrl: string;
  /** The demo site's ban webhook secret, as configured on the broker. */
  webhookSecret: string;
  stop(): Promise<void>;
}

export async function startDemo(opts: DemoOptions): Promise<Demo> {
  const brokerUrl = opts.brokerUrl ?? `http://localhost:${opts.brokerPort}`;
  const siteKeys = [{ kid: 'demo-1', secret: randomBytes(32).toString('base64url') }];
  const crmSecret = randomBytes(32).toString('base64url');
  const webhookSecret = `whsec_${randomBytes(32).toString('base64')}`;
  const hasPasswordLogin = 'password-login' in BUILTIN_PLUGINS;

  // The site listens first: the broker's config names its callback and webhook URLs.
  const site: DemoSite = await createDemoSite({
    siteId: 'demo',
    title: 'Demo site',
    keys: siteKeys,
    brokerUrl,
    publicUrl: '',
    webhookSecret,
  });
  let brokerListenUrl = brokerUrl; // known once the broker listens
  // Inbound handoff, server to server: what a customer's auth server does after its own login.
  site.app.get('/crm-login', async (_req, reply) => {
    const body = JSON.stringify({
      sub: 'crm-user-1',
      email: 'crm-user@customer.test',
      name: 'CRM User',
      return_to: `${site.options.publicUrl}/login`,
    });
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = createHmac('sha256', crmSecret).update(`${ts}.${body}`).digest('hex');
    const res = await request(`${brokerListenUrl}/handoff/demo-crm`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-handoff-timestamp': ts, 'x-handoff-signature': sig },
      body,
    });
    const answer = (await res.body.json()) as { url?: string; detail?: string };
    if (res.statusCode !== 201 || !answer.url)
      return reply.code(502).send(`broker refused the handoff: ${answer.detail ?? res.statusCode}`);
    return reply.redirect(answer.url, 303);
  });
  await site.app.listen({ port: opts.sitePort, host: '127.0.0.1' });
  const boundSitePort = (site.app.server.address() as AddressInfo).port;
  const siteUrl = opts.sitePort === 0 ? `http://127.0.0.1:${boundSitePort}` : `http://localhost:${boundSitePort}`;
  site.options.publicUrl = siteUrl;

  const tempDir = opts.dataDir ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'broker-demo-'));
  const dataDir = path.resolve(opts.dataDir ?? tempDir!);
  fs.mkdirSync(dataDir, { recursive: true });
  const keyFile = path.join(dataDir, 'demo-master.key');
  if (!fs.existsSync(keyFile)) fs.writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const config: BrokerConfig = {
    server: { host: '127.0.0.1', port: opts.brokerPort, baseUrl: brokerUrl, trustProxy: false, insecureCookies: true },
    dataDir,
    store: { kind: 'sqlite', path: path.join(dataDir, 'broker.db') },
    secrets: { masterKey: fs.readFileSync(keyFile, 'utf8').trim() },
    session: { absoluteSeconds: 8 * 3600, idleSeconds: 3600 },
    log: { level: opts.logLevel ?? 'warn' },
    admin: { apiTokens: [] },
    ...(opts.mail ? { mail: opts.mail } : {}),
    sites: [
      {
        id: 'demo',
        name: 'Demo site',
        returnUrls: [`${siteUrl}/callback`],
        handoff: { keys: siteKeys, fields: ['email', 'name'] },
        // 127.0.0.1, not localhost: the site listens on IPv4 only, and localhost may resolve to ::1 first.
        webhook: { url: `http://127.0.0.1:${boundSitePort}${DEMO_WEBHOOK_PATH}`, secret: webhookSecret },
      },
    ],
    plugins: [
      ...(hasPasswordLogin ? [{ name: 'password-login', config: { argon2: { memoryCost: 19456, timeCost: 2, parallelism: 1 } } }] : []),
      {
        name: 'hmac-handoff',
        config: {
          // The demo site also plays "the customer's auth server" (seed 000) to show the inbound direction.
          servers: [
            { id: 'demo-crm', name: 'Demo CRM', secret: crmSecret, provisioning: { policy: 'auto' }, returnTargets: [`${siteUrl}/login`] },
          ],
        },
      },
      // The demo site's webhook is on loopback, which the SSRF guard refuses unless allowed.
      { name: 'ban-broadcast', config: { allowPrivateAddresses: ['127.0.0.1'], retry: { initialDelayMs: 1000 } } },
      ...(hasPasswordLogin ? [{ name: 'admin', config: { setup: { printToStdout: false } } }] : []),
    ],
  };

  let broker: Broker | undefined;
  try {
    broker = await bootBroker(config, { ...(opts.logger ? { logger: opts.logger } : {}), ...(opts.clock ? { clock: opts.clock } : {}) });
    await broker.ready();
    if (hasPasswordLogin && opts.seedUsers !== false) {
      // A kept data folder already has them (the log remembers).
      for (const u of [DEMO_USER, { ...DEMO_ADMIN, admin: true }]) {
        if (await broker.users.findByEmail(u.email)) continue;
        const { userId } = await broker.users.register({ email: u.email, name: u.name, admin: 'admin' in u }, { actor: 'demo' });
        const r = await broker.users.execute(
          userId,
          { type: 'setPassword', passwordHash: await new PasswordHasher().hash(u.password) },
          { actor: 'demo' },
        );
        await broker.projections.waitFor(r.position);
      }
    }
    brokerListenUrl = `http://127.0.0.1:${new URL(await broker.listen()).port}`;

    const running = broker;
    return {
      broker: running,
      site,
      brokerUrl,
      brokerListenUrl,
      siteUrl,
      webhookSecret,
      async stop() {
        await site.app.close();
        await running.stop();
        if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await site.app.close();
    await broker?.stop();
    if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
    throw err;
  }
}

// Run as a program (`npm run demo`), not when a test imports startDemo.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const demo = await startDemo({
    brokerPort: Number(process.env.DEMO_BROKER_PORT ?? 4000),
    sitePort: Number(process.env.DEMO_SITE_PORT ?? 4001),
    logLevel: process.env.LOG_LEVEL,
    dataDir: process.env.DEMO_DATA_DIR,
  });
  const lines = [
    `broker:    ${demo.brokerUrl}   (DEMO_BROKER_PORT)`,
    `demo site: ${demo.siteUrl}   (DEMO_SITE_PORT)`,
    `log:       ${process.env.DEMO_DATA_DIR ? path.resolve(process.env.DEMO_DATA_DIR) : 'a temporary folder, removed at exit (DEMO_DATA_DIR keeps it)'}`,
    '',
    'A tour:',
    `  1. Open ${demo.siteUrl} in one browser and log in through the broker as ${DEMO_USER.email} / ${DEMO_USER.password}.`,
    `  2. In another browser (or a private window), open ${demo.brokerUrl}/admin and log in as ${DEMO_ADMIN.email} / ${DEMO_ADMIN.password}.`,
    `  3. Users → Demo User → Ban, confirm. The broker POSTs a signed webhook to the site (${demo.siteUrl}${DEMO_WEBHOOK_PATH}).`,
    `  4. Reload the site in the first browser: its session is over. The user's page in the console shows the delivery.`,
    `  Also: ${demo.siteUrl}/crm-login hands a user in from the demo "customer auth server" (inbound handoff).`,
  ];
  for (const l of lines) console.log(l);

  const stop = async (): Promise<void> => {
    await demo.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
