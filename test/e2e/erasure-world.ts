import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { bootBroker, type Broker } from '../../adapters/kernel/boot.js';
import { brokerLoggerOptions } from '../../adapters/http/logging.js';
import { runCli } from '../../adapters/cli/cli.js';
import type { BrokerConfig } from '../../config/types.js';
import { Browser, type Page } from '../interop/saml/browser.js';
import { SamlIdpPeer } from '../interop/saml/saml-idp.js';
import { UpstreamOidc } from '../interop/oidc-upstream/provider.js';
import { freePort } from '../interop/saml/world.js';
import { startReceiver, secretFor, type Receiver } from '../plugins/ban-broadcast/receivers.js';
import { fastConfig } from '../plugins/ban-broadcast/setup.js';
import { captureIo } from '../adapters/cli/capture-io.js';
import { runCli as runCliProcess } from '../adapters/cli/run-cli.js';
import { field } from '../helpers/cookie-jar.js';
import { logCollector, TEST_ARGON2 } from '../helpers/broker.js';
import { PG_URL } from '../adapters/event-stores/pg-fixture.js';
export { pgRelationFiles } from '../helpers/pg-files.js';

/**
 * The world of the erasure end-to-end test (issue 19): a broker on a real store (a SQLite file, or
 * a fresh PostgreSQL schema), booted from the same config file the CLI reads, with password login,
 * an upstream OIDC IdP (oidc-provider), a SAML IdP (samlify), the admin API and ban-broadcast to
 * one site whose receiver verifies with the `standardwebhooks` package.
 */

/** A browser whose every request comes through a proxy that names the client (X-Forwarded-For) and carries its User-Agent. */
export class UserBrowser extends Browser {
  constructor(private readonly extra: Record<string, string>) {
    super();
  }
  override fetch(
    url: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<Page> {
    return super.fetch(url, { ...init, headers: { ...this.extra, ...init.headers } });
  }
}

export interface Person {
  email: string;
  name: string;
  password: string;
  ip: string;
  userAgent: string;
  oidcSubject: string;
  samlNameId: string;
}

export function distinctivePerson(): Person {
  const r = randomBytes(5).toString('hex');
  const email = `ada.erasure-${r}@example.org`;
  return {
    email,
    name: `Ada Lovelace-Erasure ${r}`,
    password: `correct horse ${r} battery`,
    // TEST-NET-3 (RFC 5737): appears nowhere else in the world of the test.
    ip: '203.0.113.77',
    userAgent: `ErasureTestBrowser/${r} (Analytical Engine)`,
    oidcSubject: `oidc-sub-ada-${r}`,
    samlNameId: email,
  };
}

export type StoreKind = 'sqlite' | 'postgres';

export interface World {
  kind: StoreKind;
  dir: string;
  configFile: string;
  config: BrokerConfig;
  url: string;
  adminToken: string;
  receiver: Receiver;
  upstream: UpstreamOidc;
  saml: SamlIdpPeer;
  schema: string | null;
  broker: Broker | null;
  logs: Record<string, unknown>[];
  boot(): Promise<Broker>;
  stop(): Promise<void>;
  close(): Promise<void>;
  cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** `broker <argv>` as a separate process, as an operator runs it beside the broker. */
  cliProcess(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

export async function startWorld(kind: StoreKind, dir: string, schema: string | null): Promise<World> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const receiver = await startReceiver(secretFor(0));
  const upstream = await UpstreamOidc.start([`${url}/oidc/corp/callback`]);
  const saml = await SamlIdpPeer.start();
  const adminToken = randomBytes(24).toString('base64url');
  const config: BrokerConfig = {
    server: { host: '127.0.0.1', port, baseUrl: url, trustProxy: true, insecureCookies: true },
    dataDir: dir,
    store:
      kind === 'sqlite'
        ? { kind: 'sqlite', path: path.join(dir, 'broker.db'), synchronous: 'NORMAL' }
        : { kind: 'postgres', url: PG_URL, schema: schema!, poolMax: 5 },
    secrets: { masterKey: 'erasure-e2e-master-key-'.padEnd(48, 'q') },
    session: { absoluteSeconds: 3600, idleSeconds: 600 },
    log: { level: 'info' },
    admin: { apiTokens: [{ name: 'ops', tokenHash: createHash('sha256').update(adminToken).digest('hex') }] },
    sites: [
      {
        id: 'forum',
        name: 'Forum',
        returnUrls: ['https://forum.example/sso/return'],
        webhook: { url: receiver.url, secret: secretFor(0) },
      },
    ],
    plugins: [
      { name: 'password-login', config: { argon2: TEST_ARGON2, selfRegistration: true } },
      {
        name: 'oidc',
        config: {
          idps: [
            {
              name: 'corp',
              issuer: upstream.issuer,
              clientId: 'broker',
              clientSecret: 'broker-secret-0123456789',
              allowInsecureIssuer: true,
              scopes: ['openid', 'email', 'profile'],
              userinfo: true,
              provisioning: { policy: 'auto', linkByEmail: true },
            },
          ],
        },
      },
      {
        name: 'saml',
        config: {
          idps: [
            {
              name: 'corp',
              metadata: { xml: saml.metadata() },
              attributes: { email: 'email', name: 'displayName' },
              emailVerified: true,
              provisioning: { policy: 'auto', linkByEmail: true },
            },
          ],
        },
      },
      { name: 'admin', config: { argon2: TEST_ARGON2, setup: { printToStdout: false } } },
      { name: 'ban-broadcast', config: fastConfig },
    ],
  };
  // The CLI reads the same configuration from a file, as an operator's would (JSON is YAML).
  const configFile = path.join(dir, 'broker.yaml');
  fs.writeFileSync(configFile, JSON.stringify(config));
  const { logs, sink } = logCollector();

  const w: World = {
    kind,
    dir,
    configFile,
    config,
    url,
    adminToken,
    receiver,
    upstream,
    saml,
    schema,
    broker: null,
    logs,
    async boot() {
      // The broker opens the configured store itself (its lock, its read database file), as `broker start` does.
      w.broker = await bootBroker(structuredClone(config), { logger: pino(brokerLoggerOptions('info'), sink) });
      await w.broker.listen();
      await w.broker.ready();
      await saml.useServiceProvider((await new Browser().fetch(`${url}/saml/corp/metadata`)).body);
      return w.broker;
    },
    async stop() {
      const b = w.broker;
      w.broker = null;
      await b?.stop();
    },
    async close() {
      await w.stop();
      await receiver.close();
      await upstream.close();
      await saml.close();
    },
    async cli(...argv: string[]) {
      const io = captureIo({ BROKER_CONFIG: configFile }, dir);
      const code = await runCli(argv, io);
      return { code, stdout: io.output(), stderr: io.errors() };
    },
    cliProcess(...argv: string[]) {
      return runCliProcess(argv, { BROKER_CONFIG: configFile });
    },
  };
  return w;
}

// --- the user's flows, each from the user's own browser (their address and User-Agent)

export async function registerByPassword(b: Browser, url: string, p: Person): Promise<Page> {
  const form = await b.follow(`${url}/password/register`);
  if (form.status !== 200) throw new Error(`register form: ${form.status}`);
  const f = { _csrf: field(form.body, '_csrf'), lr: field(form.body, 'lr'), email: p.email, name: p.name, password: p.password };
  return b.follow(`${url}/password/register`, { form: f });
}

export async function loginByPassword(b: Browser, url: string, p: Person): Promise<Page> {
  const form = await b.follow(`${url}/password/login?return_to=%2F`);
  if (!form.url.includes('/password/login?lr=')) throw new Error(`no password form: ${form.status} ${form.url}`);
  return b.follow(`${url}/password/login`, {
    form: { _csrf: field(form.body, '_csrf'), lr: field(form.body, 'lr'), email: p.email, password: p.password },
  });
}

export async function loginByOidc(b: Browser, w: World, p: Person): Promise<Page> {
  w.upstream.accounts.set(p.oidcSubject, { email: p.email, email_verified: true, name: p.name });
  return w.upstream.login(b, `${w.url}/oidc/corp/login`, p.oidcSubject);
}

export async function loginBySaml(b: Browser, w: World, p: Person): Promise<Page> {
  w.saml.user = { nameId: p.samlNameId, email: p.email, name: p.name };
  const toIdp = await b.follow(`${w.url}/saml/corp/login`);
  const form = Browser.form(toIdp);
  if (!form) throw new Error(`no SAML auto-post form: ${toIdp.status} ${toIdp.body.slice(0, 500)}`);
  return b.submit(form);
}

/** An admin API call (from the operator's own address: no X-Forwarded-For). */
export async function adminPost(w: World, pathname: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${w.url}${pathname}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${w.adminToken}`, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

// --- raw bytes

export interface Needle {
  label: string;
  value: string | Buffer;
}

export interface Hit {
  needle: string;
  where: string;
  offset: number;
  context: string;
}

/** Every occurrence of each needle (as UTF-8 bytes) in `bytes`, with a little context for the report. */
export function findNeedles(bytes: Buffer, needles: Needle[], where: string): Hit[] {
  const hits: Hit[] = [];
  for (const n of needles) {
    const b = typeof n.value === 'string' ? Buffer.from(n.value, 'utf8') : n.value;
    for (let at = bytes.indexOf(b); at !== -1; at = bytes.indexOf(b, at + 1)) {
      const ctx = bytes
        .subarray(Math.max(0, at - 60), Math.min(bytes.length, at + b.length + 60))
        .toString('latin1')
        .replace(/[^\x20-\x7e]/g, '.');
      hits.push({ needle: n.label, where, offset: at, context: ctx });
      if (hits.length > 50) return hits;
    }
  }
  return hits;
}

/** The user's data key as the store keeps it (wrapped by the master key), read beside the running broker. */
export async function wrappedUserKey(w: World, userId: string): Promise<Buffer | null> {
  const id = `u:${userId}`;
  if (w.kind === 'sqlite') {
    const db = new Database(path.join(w.dir, 'broker.db'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT wrapped FROM data_keys WHERE id = ?').get(id) as { wrapped: Buffer | null } | undefined)?.wrapped ?? null;
    } finally {
      db.close();
    }
  }
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return (
      (await c.query<{ wrapped: Buffer | null }>(`SELECT wrapped FROM "${w.schema}".data_keys WHERE id = $1`, [id])).rows[0]?.wrapped ??
      null
    );
  } finally {
    await c.end();
  }
}

/** Every file under `dir` (recursively), but `except`. */
export function filesUnder(dir: string, except: string[] = []): string[] {
  const out: string[] = [];
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (except.includes(p)) continue;
    if (ent.isDirectory()) out.push(...filesUnder(p, except));
    else if (ent.isFile()) out.push(p);
  }
  return out;
}
