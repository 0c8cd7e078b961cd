// `npm run demo`: a broker (memory store, plain-http dev cookies) with the password form and the
// signed handoff, plus a tiny downstream site that logs in through it. Everything here is a demo:
// fixed demo secrets, nothing persisted.
import { createHmac, randomBytes } from 'node:crypto';
import { request } from 'undici';
import { bootBroker } from '../kernel/boot.js';
import { BUILTIN_PLUGINS } from '../kernel/builtin-plugins.js';
import { MemoryEventStore } from '../event-stores/memory.js';
import { PasswordHasher } from '../crypto/password-hasher.js';
import type { BrokerConfig } from '../../config/types.js';
import { createDemoSite, type DemoSite } from './demo-site.js';

const brokerPort = Number(process.env.DEMO_BROKER_PORT ?? 4000);
const sitePort = Number(process.env.DEMO_SITE_PORT ?? 4001);
const brokerUrl = `http://localhost:${brokerPort}`;
const siteUrl = `http://localhost:${sitePort}`;
const SITE_KEYS = [{ kid: 'demo-1', secret: randomBytes(32).toString('base64url') }];
const CRM_SECRET = randomBytes(32).toString('base64url');
const DEMO_USER = { email: 'demo@example.test', name: 'Demo User', password: 'demo-password-1' };
const hasPasswordLogin = 'password-login' in BUILTIN_PLUGINS;

const config: BrokerConfig = {
  server: { host: '127.0.0.1', port: brokerPort, baseUrl: brokerUrl, trustProxy: false, insecureCookies: true },
  dataDir: '/nonexistent',
  store: { kind: 'memory' },
  secrets: { masterKey: randomBytes(32).toString('hex') },
  session: { absoluteSeconds: 8 * 3600, idleSeconds: 3600 },
  log: { level: process.env.LOG_LEVEL ?? 'warn' },
  admin: { apiTokens: [] },
  sites: [{ id: 'demo', name: 'Demo site', returnUrls: [`${siteUrl}/callback`], handoff: { keys: SITE_KEYS, fields: ['email', 'name'] } }],
  plugins: [
    ...(hasPasswordLogin ? [{ name: 'password-login', config: { argon2: { memoryCost: 19456, timeCost: 2, parallelism: 1 } } }] : []),
    {
      name: 'hmac-handoff',
      config: {
        // The demo site also plays "the customer's auth server" (seed 000) to show the inbound direction.
        servers: [{ id: 'demo-crm', name: 'Demo CRM', secret: CRM_SECRET, provisioning: { policy: 'auto' }, returnTargets: [`${siteUrl}/login`] }],
      },
    },
  ],
};

const broker = await bootBroker(config, { store: new MemoryEventStore() });
await broker.ready();
if (hasPasswordLogin) {
  const { userId } = await broker.users.register({ email: DEMO_USER.email, name: DEMO_USER.name }, { actor: 'demo' });
  await broker.users.execute(userId, { type: 'setPassword', passwordHash: await new PasswordHasher().hash(DEMO_USER.password) }, { actor: 'demo' });
}
await broker.listen();

const site: DemoSite = await createDemoSite({ siteId: 'demo', title: 'Demo site', keys: SITE_KEYS, brokerUrl, publicUrl: siteUrl });
// Inbound handoff, server to server: what a customer's auth server does after its own login.
site.app.get('/crm-login', async (_req, reply) => {
  const body = JSON.stringify({ sub: 'crm-user-1', email: 'crm-user@customer.test', name: 'CRM User', return_to: `${siteUrl}/login` });
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = createHmac('sha256', CRM_SECRET).update(`${ts}.${body}`).digest('hex');
  const res = await request(`${brokerUrl}/handoff/demo-crm`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-handoff-timestamp': ts, 'x-handoff-signature': sig }, body });
  const answer = (await res.body.json()) as { url?: string; detail?: string };
  if (res.statusCode !== 201 || !answer.url) return reply.code(502).send(`broker refused the handoff: ${answer.detail ?? res.statusCode}`);
  return reply.redirect(answer.url, 303);
});
await site.app.listen({ port: sitePort, host: '127.0.0.1' });

console.log(`broker:    ${brokerUrl}`);
console.log(`demo site: ${siteUrl}  (open this one)`);
if (hasPasswordLogin) console.log(`  log in with ${DEMO_USER.email} / ${DEMO_USER.password}`);
console.log(`  or ${siteUrl}/crm-login to be handed in by the demo "customer auth server" (inbound handoff)`);

const stop = async (): Promise<void> => {
  await site.app.close();
  await broker.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
