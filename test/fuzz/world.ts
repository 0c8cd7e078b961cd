import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { pino } from 'pino';
import { Pool } from 'undici';
import { brokerLoggerOptions } from '../../adapters/http/logging.js';
import { bootBroker, type Broker } from '../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../adapters/event-stores/memory.js';
import { ManualClock } from '../../core/index.js';
import { TEST_ARGON2, logCollector, testConfig } from '../helpers/broker.js';
import { client, field } from '../helpers/cookie-jar.js';
import { createPasswordUser } from '../helpers/users.js';
import { SamlIdpPeer } from '../interop/saml/saml-idp.js';
import { passwordIdentity } from '../../plugins/password-login/deps.js';
import { sessionCsrfToken } from '../../adapters/http/session-csrf.js';

/**
 * One broker with every built-in plugin that runs without outside servers, plus the small local
 * servers some of them talk to (a gateway upstream, a ban webhook receiver, a samlify IdP), and the
 * credentials a fuzzer needs to get past the front door of each route (sessions, CSRF tokens,
 * client secrets, signed handoffs, a SAML login binding).
 */

export const CRM_SECRET = 'crm-shared-secret-for-the-fuzzer-0123456789';
export const CLIENT_SECRET = 'web-client-secret-0123456789';
export const PASSWORD = 'correct horse battery staple';
/** What the per-second recorders may write in total while the clock stands still (see core/kernel/per-second-cap.ts). */
export const SAML_REFUSAL_CAP = 5;
export { REJECTIONS_RECORDED_PER_SECOND as HANDOFF_REJECTION_CAP } from '../../plugins/hmac-handoff/rejections.js';

export interface Session {
  userId: string;
  token: string;
  csrf: string;
}

export interface World {
  broker: Broker;
  url: string;
  pool: Pool;
  clock: ManualClock;
  /** Broker log lines at warn and above (JSON objects). */
  logs: Record<string, unknown>[];
  idp: SamlIdpPeer;
  /** The OIDC issuer nobody answers for (`LoginFailed.issuer` of refused callbacks). */
  oidcIssuer: string;
  adminApiToken: string;
  userId: string;
  adminId: string;
  totpUserId: string;
  /** Sessions for the user and the admin, recreated when a fuzzed request ends them. */
  sessions(): Promise<{ user: Session; admin: Session }>;
  /** @fastify/csrf-protection's pair for the password forms: the secret cookie and a token. */
  passwordCsrf: { cookie: string; token: string };
  /** A genuine second-factor ticket for the TOTP user (from a real password POST). */
  mfaTicket: string;
  /** A genuine enrollment blob for the plain user (from the enroll page). */
  enrollSealed: string;
  /** Login request tokens the broker itself handed out on real redirects. */
  loginRequests: string[];
  /** An access token from the client_credentials grant. */
  accessToken: string;
  /** The private key of the JWT-signing inbound server `jwtcrm`. */
  jwtServerKey: CryptoKey;
  stop(): Promise<void>;
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

export async function startWorld(): Promise<World> {
  // The gateway's app: answers anything; `/userinfo` plays an upstream IdP that knows one token.
  const app = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/userinfo') {
        if (req.headers.authorization === 'Bearer upstream-ok')
          return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: 'up-1', email: 'up@example.com' }));
        return res.writeHead(401).end();
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, url: req.url }));
    });
  });
  const appUrl = await listen(app);
  const hooks = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200).end('ok'));
  });
  const hookUrl = await listen(hooks);
  // A port nothing listens on: the `down` app and the OIDC issuer are unreachable on purpose.
  const deadServer = http.createServer();
  const deadUrl = await listen(deadServer);
  await close(deadServer);

  const idp = await SamlIdpPeer.start();
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const adminApiToken = 'fuzz-admin-api-token-0123456789abcdef';
  const { logs, sink } = logCollector();
  // The clock stands still: every per-second cap then bounds the whole run, not one second of it.
  const clock = new ManualClock(Date.now());
  const samlIdp = {
    metadata: { xml: idp.metadata() },
    attributes: { email: 'email', name: 'displayName' },
    provisioning: { policy: 'auto' },
  };
  const config = testConfig({
    log: { level: 'warn' },
    admin: { apiTokens: [{ name: 'fuzz', tokenHash: createHash('sha256').update(adminApiToken).digest('hex') }] },
    sites: [
      {
        id: 'site-a',
        name: 'Site A',
        returnUrls: ['https://site-a.test/cb'],
        handoff: { keys: [{ kid: 'a1', secret: 'site-a-handoff-secret-0123456789' }], fields: ['email', 'name', 'roles', 'tenant'] },
        webhook: { url: `${hookUrl}/hook`, secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}` },
      },
      {
        id: 'legacy',
        name: 'Legacy',
        returnUrls: ['https://legacy.test/sso'],
        handoff: { version: 'v1', keys: [{ kid: 'l1', secret: 'legacy-handoff-secret-0123' }] },
      },
    ],
    plugins: [
      { name: 'password-login', config: { argon2: TEST_ARGON2, selfRegistration: true, rateLimit: { max: 1_000_000, windowSeconds: 60 } } },
      { name: 'admin', config: { argon2: TEST_ARGON2, setup: { printUrl: false } } },
      {
        name: 'hmac-handoff',
        config: {
          rateLimit: { browser: { max: 1_000_000 }, server: { max: 1_000_000 } },
          servers: [
            {
              id: 'crm',
              name: 'CRM',
              secret: CRM_SECRET,
              provisioning: { policy: 'auto' },
              returnTargets: ['/', 'https://app.crm.test/home'],
              loginUrl: 'https://crm.test/login',
            },
            { id: 'jwtcrm', name: 'JWT CRM', publicKey: await exportJWK(publicKey), provisioning: { policy: 'explicit' } },
          ],
        },
      },
      {
        name: 'ban-broadcast',
        config: { timeoutMs: 1000, allowPrivateAddresses: ['127.0.0.1'], retry: { initialDelayMs: 50, maxDelayMs: 200, horizonMs: 2000 } },
      },
      {
        name: 'oauth-server',
        config: {
          clients: [
            {
              clientId: 'web',
              name: 'Web',
              secret: CLIENT_SECRET,
              redirectUris: ['https://app.example/cb'],
              postLogoutRedirectUris: ['https://app.example/bye'],
              scopes: ['openid', 'profile', 'email', 'offline_access', 'api'],
              grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
            },
            { clientId: 'spa', name: 'SPA', tokenEndpointAuthMethod: 'none', redirectUris: ['https://spa.example/cb'] },
          ],
        },
      },
      {
        name: 'gateway',
        config: {
          routes: [
            { id: 'wiki', name: 'Wiki', pathPrefix: '/apps/wiki', upstream: appUrl },
            { id: 'down', name: 'Down', pathPrefix: '/apps/down', upstream: deadUrl, timeoutMs: 1000 },
          ],
          upstreamIdp: { issuer: 'https://upstream-idp.test', userinfoUrl: `${appUrl}/userinfo`, timeoutMs: 1000 },
        },
      },
      {
        name: 'saml',
        config: {
          refusalEventsPerSecond: SAML_REFUSAL_CAP,
          idps: [
            { name: 'acme', ...samlIdp, idpInitiated: { enabled: true, relayStates: ['/'] } },
            { name: 'acmepost', ...samlIdp, requestBinding: 'post' },
          ],
        },
      },
      // Discovery is lazy: an unreachable issuer lets the broker start, and its routes answer 503.
      {
        name: 'oidc',
        config: {
          idps: [
            {
              name: 'corp',
              issuer: deadUrl,
              clientId: 'broker',
              clientSecret: 'oidc-client-secret',
              allowInsecureIssuer: true,
              provisioning: { policy: 'auto' },
            },
          ],
        },
      },
    ],
  });
  const broker = await bootBroker(config, { store: new MemoryEventStore(), clock, logger: pino(brokerLoggerOptions('warn'), sink) });
  const url = `http://127.0.0.1:${new URL(await broker.listen()).port}`;
  const pool = new Pool(url, { connections: 4, headersTimeout: 15_000, bodyTimeout: 15_000 });

  const meta = await fetch(`${url}/saml/acme/metadata`);
  await idp.useServiceProvider(await meta.text());

  const { userId } = await createPasswordUser(broker, { email: 'user@example.com', password: PASSWORD, name: 'User' });
  const { userId: adminId } = await createPasswordUser(broker, {
    email: 'admin@example.com',
    password: PASSWORD,
    name: 'Admin',
    admin: true,
  });
  const { userId: totpUserId } = await createPasswordUser(broker, { email: 'totp@example.com', password: PASSWORD, totp: true });

  let current: { user: Session; admin: Session } | null = null;
  const open = async (id: string): Promise<Session> => {
    for (const [cmd, flag] of [
      ['unban', 'banned'],
      ['enable', 'disabled'],
    ] as const) {
      const u = await broker.users.load(id);
      if (u[flag])
        await broker.projections.waitFor(
          (
            await broker.users.execute(id, cmd === 'unban' ? { type: 'unban', reason: 'fuzz', actor: 'test' } : { type: 'enable' }, {
              actor: 'test',
            })
          ).position,
        );
    }
    const out = await broker.login.complete(passwordIdentity(id, null, null, ['pwd']), { ip: '127.0.0.1' });
    return { userId: id, token: out.sessionToken, csrf: sessionCsrfToken(out.sessionToken) };
  };
  const sessions = async () => {
    if (!current) current = { user: await open(userId), admin: await open(adminId) };
    if (!broker.login.validateSession(current.user.token)) current.user = await open(userId);
    if (!broker.login.validateSession(current.admin.token)) current.admin = await open(adminId);
    return current;
  };
  const s = await sessions();

  // Real tokens, obtained the way a browser or a client would.
  const browser = client(url);
  const form = await browser.get(
    '/login?lr=' +
      encodeURIComponent(
        broker.login.requests.encode({ protocol: 'return_to', params: { return_to: '/' }, idp: 'password' }, clock.now(), 'fuzz-lr-0'),
      ),
  );
  const passwordCsrf = { cookie: browser.jar.cookies.get('broker_csrf')!, token: field(form.body, '_csrf') };
  const step1 = await browser.postForm('/password/login', {
    _csrf: passwordCsrf.token,
    lr: field(form.body, 'lr'),
    email: 'totp@example.com',
    password: PASSWORD,
  });
  const mfaTicket = field(step1.body, 'ticket');
  const enrollPage = await client(url).request('/password/totp/enroll', { headers: { cookie: `broker_session=${s.user.token}` } });
  const enrollSealed = field(await enrollPage.text(), 'sealed');
  const loginRequests: string[] = [];
  for (const path of [
    '/oauth/authorize?response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=openid',
    '/sso/site-a?return_to=https%3A%2F%2Fsite-a.test%2Fcb&nonce=fuzz-nonce-0123456789',
    '/admin/users',
    '/apps/wiki/page',
  ]) {
    const res = await client(url).request(path, { headers: { accept: 'text/html' } });
    const lr = new URL(res.headers.get('location') ?? '/', url).searchParams.get('lr');
    if (!lr) throw new Error(`no login request from ${path}: ${res.status}`);
    loginRequests.push(lr);
  }
  const cc = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`web:${CLIENT_SECRET}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials&scope=api',
  });
  const accessToken = ((await cc.json()) as { access_token: string }).access_token;
  if (!accessToken) throw new Error('no access token from client_credentials');

  return {
    broker,
    url,
    pool,
    clock,
    logs,
    idp,
    oidcIssuer: deadUrl,
    adminApiToken,
    userId,
    adminId,
    totpUserId,
    sessions,
    passwordCsrf,
    mfaTicket,
    enrollSealed,
    loginRequests,
    accessToken,
    jwtServerKey: privateKey,
    async stop() {
      await pool.close();
      await broker.stop();
      await idp.close();
      await close(app);
      await close(hooks);
    },
  };
}

/** Every route the broker registered, read from fastify's route tree (`printRoutes`), checked with `hasRoute`. */
export function registeredRoutes(broker: Broker): { method: string; url: string }[] {
  const out: { method: string; url: string }[] = [];
  const stack: string[] = [];
  for (const line of broker.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    const path = (depth === 0 ? '' : stack[depth - 1]) + m[2];
    stack[depth] = path;
    for (const method of m[3]?.split(', ') ?? []) {
      if (!broker.app.hasRoute({ method: method as 'GET', url: path })) throw new Error(`route tree parsed wrongly: ${method} ${path}`);
      out.push({ method, url: path });
    }
  }
  return out;
}
