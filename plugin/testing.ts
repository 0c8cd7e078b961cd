// Test helpers for plugin authors: `import { startBroker, logIn } from 'identity-broker/plugin/testing'`.
// A real broker (real HTTP server on a free port, real SQLite files in a temporary folder), your
// plugin loaded into it exactly as the config would load it. See plugins/example/README.md.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootBroker, type Broker } from '../adapters/kernel/boot.js';
import { sessionCsrfToken } from '../adapters/http/session-csrf.js';
import type { Plugin } from '../adapters/kernel/plugin-types.js';
import type { BrokerConfig } from '../config/types.js';

export type { Broker } from '../adapters/kernel/boot.js';

export interface TestBrokerOptions {
  /** Plugin objects to load, in order, each with its config section (validated against its schema). */
  plugins?: { plugin: Plugin<any>; config?: unknown }[];
  /** Built-in or configured plugins by name (`password-login`, a path, a package), loaded before `plugins`. */
  configured?: { name: string; config?: unknown }[];
  /** Changes to the broker config (per top-level key), e.g. `{ admin: { apiTokens: [token.entry] } }`. */
  config?: Partial<BrokerConfig>;
  /** The broker's log level; default `warn` (`silent` for none). */
  logLevel?: string;
}

export interface TestBroker {
  broker: Broker;
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  /** The temporary folder with the SQLite log and read database (removed by `stop`). */
  dataDir: string;
  /** Stops the broker and removes its folder. */
  stop(): Promise<void>;
}

/**
 * Starts a broker with your plugin on a new SQLite file in a temporary folder, listening on
 * 127.0.0.1 on a free port, and waits until its projections (yours too) have caught up.
 */
export async function startBroker(options: TestBrokerOptions = {}): Promise<TestBroker> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-plugin-test-'));
  const config: BrokerConfig = {
    server: { host: '127.0.0.1', port: 0, baseUrl: 'http://127.0.0.1', trustProxy: false, insecureCookies: true },
    dataDir,
    store: { kind: 'sqlite', path: path.join(dataDir, 'broker.db') },
    secrets: { masterKey: randomBytes(32).toString('hex') },
    session: { absoluteSeconds: 8 * 3600, idleSeconds: 3600 },
    log: { level: options.logLevel ?? 'warn' },
    admin: { apiTokens: [] },
    sites: [],
    plugins: options.configured ?? [],
    ...options.config,
  } as BrokerConfig;
  let broker: Broker;
  try {
    broker = await bootBroker(config, { plugins: options.plugins });
  } catch (e) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const listened = await broker.listen();
  return {
    broker,
    url: `http://127.0.0.1:${new URL(listened).port}`,
    dataDir,
    async stop() {
      await broker.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface LoggedIn {
  userId: string;
  /** The `cookie` request header value that carries the session. */
  cookie: string;
  /** The session-bound CSRF token: send it as `x-csrf-token` (or a `_csrf` form field) on changes. */
  csrfToken: string;
  /** `{ cookie, 'x-csrf-token' }`, ready for `fetch(url, { headers })`. */
  headers: Record<string, string>;
}

/**
 * Creates a user (an administrator with `admin: true`), or takes the existing `userId`, and opens a
 * broker session for them as a login through an identity provider would (recorded as
 * `LoginSucceeded`, issuer `plugin-testing`). Returns the cookie a browser would hold and its CSRF token.
 */
export async function logIn(
  broker: Broker,
  o: { userId?: string; email?: string; name?: string; admin?: boolean } = {},
): Promise<LoggedIn> {
  const meta = { actor: 'test' };
  const email = o.email ?? `user-${randomBytes(6).toString('hex')}@example.test`;
  const userId = o.userId ?? (await broker.users.register({ email, name: o.name ?? null, via: 'plugin-testing' }, meta)).userId;
  if (o.admin) {
    const granted = await broker.users.execute(userId, { type: 'grantAdmin' }, meta);
    await broker.projections.waitFor(granted.position);
  }
  const out = await broker.login.complete(
    { issuer: 'plugin-testing', subject: userId, userId, email, amr: ['test'] },
    { idp: 'plugin-testing' },
  );
  const cookieName = broker.config.server.insecureCookies ? 'broker_session' : '__Host-broker_session';
  const cookie = `${cookieName}=${out.sessionToken}`;
  const csrfToken = sessionCsrfToken(out.sessionToken);
  return { userId, cookie, csrfToken, headers: { cookie, 'x-csrf-token': csrfToken } };
}

/**
 * A new admin API token: `token` goes in `Authorization: Bearer <token>`, `entry` in the config's
 * `admin.apiTokens` (only its SHA-256 is kept, as `broker admin-token` prints it).
 */
export function adminApiToken(name = 'test'): { token: string; entry: { name: string; tokenHash: string } } {
  const token = randomBytes(32).toString('base64url');
  return { token, entry: { name, tokenHash: createHash('sha256').update(token).digest('hex') } };
}
