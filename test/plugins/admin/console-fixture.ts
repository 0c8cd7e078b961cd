import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { ManualClock } from '../../../core/index.js';
import { startBroker, TEST_ARGON2, waitUntil, type TestBroker } from '../../helpers/broker.js';
import { client, type Client } from '../../helpers/cookie-jar.js';
import { createPasswordUser } from '../../helpers/users.js';
import { freePort, secretFor, startReceiver, type Receiver } from '../ban-broadcast/receivers.js';
import { authorize, authorizeUrl, basic, pkce, postForm, PW } from '../oauth-server/harness.js';
import { adminLogin, bootstrapAdmin } from './setup-flow.js';

export const WEB_SECRET = 'web-app-secret-0123456789';
export const REDIRECT = 'https://app.example/cb';
export const HANDOFF_SECRET = 'forum-handoff-secret-0123456789abcdef';

export interface ConsoleWorld {
  t: TestBroker;
  dir: string;
  storePath: string;
  /** The webhook receiver of site `forum` (acknowledges every notification). */
  forum: Receiver;
  admin: Client;
  adminId: string;
  /** The first admin's credentials (password and TOTP secret), for a browser login. */
  creds: { email: string; password: string; secret: string };
  /** A user with a password and a live browser session and an OAuth grant to `web`. */
  ann: { id: string; browser: Client; refreshToken: string };
  stop(): Promise<void>;
}

/**
 * A broker as an operator meets it: SQLite log, password login, the admin console, an OAuth
 * client, a site with handoff keys and a ban webhook (a real receiver), an administrator from
 * the first-run setup logged in with password + TOTP, and a user with a session and a grant.
 */
export async function startConsoleWorld(): Promise<ConsoleWorld> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-'));
  const storePath = path.join(dir, 'broker.db');
  const forum = await startReceiver(secretFor(0));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const t = await startBroker({
    store: await SqliteEventStore.open({ path: storePath }),
    clock: new ManualClock(Date.now()),
    logLevel: 'warn',
    plugins: [
      { name: 'password-login', config: { argon2: TEST_ARGON2, rateLimit: { max: 10000, windowSeconds: 60 } } },
      { name: 'admin', config: { argon2: TEST_ARGON2, setup: { printToStdout: false } } },
      {
        name: 'oauth-server',
        config: {
          clients: [
            {
              clientId: 'web',
              name: 'Web App',
              secret: WEB_SECRET,
              redirectUris: [REDIRECT],
              scopes: ['openid', 'profile', 'email', 'offline_access', 'api'],
              grantTypes: ['authorization_code', 'refresh_token'],
            },
          ],
        },
      },
      {
        name: 'ban-broadcast',
        config: {
          timeoutMs: 2000,
          retry: { initialDelayMs: 30, maxDelayMs: 200, horizonMs: 3000 },
          leaseMs: 1000,
          allowPrivateAddresses: ['127.0.0.1'],
        },
      },
    ],
    config: {
      server: { host: '127.0.0.1', port, baseUrl: url, trustProxy: false, insecureCookies: true },
      sites: [
        {
          id: 'forum',
          name: 'Community forum',
          returnUrls: ['https://forum.example/sso'],
          handoff: {
            keys: [
              { kid: 'forum-2026', secret: HANDOFF_SECRET },
              { kid: 'forum-2025', secret: `${HANDOFF_SECRET}-old` },
            ],
            fields: ['email', 'name'],
          },
          webhook: { url: forum.url, secret: secretFor(0) },
        },
      ],
    },
  });
  const creds = await bootstrapAdmin(t, 'root@example.com');
  const admin = await adminLogin(t, creds);
  const adminId = t.broker.read.users.findByEmail('root@example.com')!.userId;

  const { userId } = await createPasswordUser(t.broker, { email: 'ann@example.com', password: PW, name: 'Ann Example' });
  const browser = client(t.url);
  const { verifier, challenge } = pkce();
  const loc = await authorize(
    browser,
    authorizeUrl({
      client_id: 'web',
      redirect_uri: REDIRECT,
      scope: 'openid email offline_access',
      state: 's',
      nonce: 'n',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }),
    { email: 'ann@example.com' },
  );
  const tokens = await postForm(
    t.url,
    '/oauth/token',
    { grant_type: 'authorization_code', code: loc.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier },
    basic('web', WEB_SECRET),
  );
  if (tokens.status !== 200) throw new Error(`token request failed: ${JSON.stringify(tokens.body)}`);
  await waitUntil(() => t.broker.read.sessions.forUser(userId).length === 1, 5000, "ann's session");

  return {
    t,
    dir,
    storePath,
    forum,
    admin,
    adminId,
    creds,
    ann: { id: userId, browser, refreshToken: String(tokens.body.refresh_token) },
    async stop() {
      await t.stop();
      await forum.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The session CSRF token of a logged-in client (from the JSON helper route). */
export async function csrfOf(c: Client): Promise<string> {
  const r = await c.request('/admin/api/csrf', { headers: { accept: 'application/json' } });
  return ((await r.json()) as { csrfToken: string }).csrfToken;
}
