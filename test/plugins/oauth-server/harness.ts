import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { expect } from 'vitest';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import { PasswordHasher } from '../../../adapters/crypto/password-hasher.js';
import { TOKENS } from '../../../adapters/kernel/tokens.js';
import type { SigningKeys } from '../../../adapters/crypto/signing-keys.js';
import type { Clock, EventStore } from '../../../core/index.js';

/** Real time plus an offset the test moves (third-party clients use the real clock). */
export class ShiftClock implements Clock {
  private offset = 0;
  now(): Date {
    return new Date(Date.now() + this.offset);
  }
  advance(ms: number): void {
    this.offset += ms;
  }
}
import { TEST_ARGON2, testConfig } from '../../helpers/broker.js';
import { client, field, type Client } from '../../helpers/cookie-jar.js';
import type { ClientConfig } from '../../../plugins/oauth-server/config.js';
import type { BrokerConfig } from '../../../config/types.js';

export const PW = 'correct horse battery';
export const SECRET = 'web-app-secret-0123456789';
export const REDIRECT = 'https://app.example/cb';

export const CLIENTS: ClientConfig[] = [
  {
    clientId: 'web',
    name: 'Web App',
    secret: SECRET,
    redirectUris: [REDIRECT, 'https://app.example/cb2'],
    postLogoutRedirectUris: ['https://app.example/bye'],
    scopes: ['openid', 'profile', 'email', 'offline_access', 'api'],
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
  },
  { clientId: 'spa', name: 'SPA', tokenEndpointAuthMethod: 'none', redirectUris: ['https://spa.example/cb'] },
  {
    clientId: 'post',
    name: 'Post client',
    tokenEndpointAuthMethod: 'client_secret_post',
    secret: 'post-client-secret-0123456789',
    redirectUris: ['https://post.example/cb'],
    firstParty: true,
  },
  { clientId: 'svc', name: 'Service', secret: 'service-secret-0123456789', grantTypes: ['client_credentials'], scopes: ['api', 'reports'] },
];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface Harness {
  broker: Broker;
  url: string;
  clock: ShiftClock;
  keys: SigningKeys;
  stop(): Promise<void>;
  /** Registers a user with a password (Argon2 cheap test params); returns the user id. */
  user(email: string, opts?: { roles?: string[]; tenant?: string }): Promise<string>;
  browser(): Client;
}

/** A broker on a known port (the issuer URL must be the address openid-client talks to) with password-login and oauth-server. */
export async function startOAuth(
  clients: ClientConfig[] = CLIENTS,
  extra: Record<string, unknown> = {},
  morePlugins: { name: string; config: unknown }[] = [],
  configOver: Partial<BrokerConfig> = {},
  opts: { store?: EventStore; sink?: Writable; port?: number } = {},
): Promise<Harness> {
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const clock = new ShiftClock();
  const config = testConfig({
    server: { host: '127.0.0.1', port, baseUrl: url, trustProxy: false, insecureCookies: true },
    log: { level: 'warn' },
    plugins: [
      { name: 'password-login', config: { argon2: TEST_ARGON2, rateLimit: { max: 10000, windowSeconds: 60 } } },
      { name: 'oauth-server', config: { clients, ...extra } },
      ...morePlugins,
    ],
    ...configOver,
  });
  const sink = opts.sink ?? new Writable({ write: (_c, _e, cb) => cb() });
  const broker = await bootBroker(config, { store: opts.store ?? new MemoryEventStore(), clock, logger: pino({ level: 'warn' }, sink) });
  await broker.listen();
  const hasher = new PasswordHasher(TEST_ARGON2);
  return {
    broker,
    url,
    clock,
    keys: broker.container.get<SigningKeys>(TOKENS.SigningKeys),
    stop: () => broker.stop(),
    async user(email, opts = {}) {
      const { userId } = await broker.users.register({ email, name: email.split('@')[0] }, { actor: 'test' });
      await broker.users.execute(userId, { type: 'setPassword', passwordHash: await hasher.hash(PW) }, { actor: 'test' });
      const r = await broker.users.execute(
        userId,
        { type: 'assignRoles', roles: opts.roles ?? ['reader'], tenant: opts.tenant ?? 'acme', source: 'test' },
        { actor: 'test' },
      );
      await broker.projections.waitFor(r.position);
      return userId;
    },
    browser: () => client(url),
  };
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export const authorizeUrl = (params: Record<string, string>): string =>
  `/oauth/authorize?${new URLSearchParams({ response_type: 'code', ...params })}`;

/**
 * Drives a browser through /oauth/authorize: the password form when there is no session, the
 * consent page when asked (decision allow/deny). Returns the final redirect to the client.
 */
export async function authorize(c: Client, path: string, opts: { email?: string; decision?: 'allow' | 'deny' } = {}): Promise<URL> {
  let r = await c.get(path);
  if (r.url.includes('/password/login')) {
    expect(r.res.status).toBe(200);
    r = await c.postForm('/password/login', {
      _csrf: field(r.body, '_csrf'),
      lr: field(r.body, 'lr'),
      email: opts.email ?? 'ann@example.com',
      password: PW,
    });
  }
  if (r.res.status === 200 && r.body.includes('action="/oauth/consent"')) {
    r = await c.postForm('/oauth/consent', {
      ticket: field(r.body, 'ticket'),
      csrf: field(r.body, 'csrf'),
      decision: opts.decision ?? 'allow',
    });
  }
  if (r.res.status < 300 || r.res.status >= 400)
    throw new Error(`expected a redirect to the client, got ${r.res.status}: ${r.body.slice(0, 500)}`);
  return new URL(r.res.headers.get('location')!, r.url);
}

export const basic = (id: string, secret: string): string =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** POST a form to the broker with optional Basic credentials; returns status, headers and JSON. */
export async function postForm(
  url: string,
  path: string,
  form: Record<string, string>,
  auth?: string,
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: auth } : {}) },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A full code flow for `web` (Basic auth) with PKCE: returns the token response. */
export async function codeFlow(h: Harness, c: Client, opts: { scope?: string; email?: string } = {}): Promise<Record<string, unknown>> {
  const { verifier, challenge } = pkce();
  const loc = await authorize(
    c,
    authorizeUrl({
      client_id: 'web',
      redirect_uri: REDIRECT,
      scope: opts.scope ?? 'openid profile email api',
      state: 's1',
      nonce: 'n1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }),
    { email: opts.email },
  );
  expect(loc.searchParams.get('iss')).toBe(h.url);
  const code = loc.searchParams.get('code')!;
  const r = await postForm(
    h.url,
    '/oauth/token',
    { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier },
    basic('web', SECRET),
  );
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}
