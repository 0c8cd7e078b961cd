import { createHash, createHmac } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import net from 'node:net';
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import type { RecordedEvent } from '../../core/index.js';
import { CRM_SECRET, CLIENT_SECRET, HANDOFF_REJECTION_CAP, SAML_REFUSAL_CAP, registeredRoutes, startWorld, type World } from './world.js';
import { ROUTE_KEYS, headerSafe, junk, paramValue, rawSafe, serialiseBody, wildcard, encode, type Junk, type Pair } from './junk.js';
import { samlCases, type SamlCase } from './saml-cases.js';

/**
 * "Bad input gets a clear error and loses nothing": one broker with every plugin that runs without
 * outside servers, every route it registered, malformed requests over real HTTP. No answer may be a
 * 5xx (but 502/503/504 from the gateway route whose app is down and 503 from the OIDC routes whose
 * issuer is unreachable, and 503 from /readyz while a projection catches up), no stack trace may
 * leak, the broker keeps answering /healthz, nothing is left unhandled in this process, and
 * anonymous junk grows the event log only as far as the refusal caps allow.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_601);
/** Runs per route and phase (fewer for HEAD and static routes); FUZZ_RUNS scales them for a longer hunt. */
const SCALE = Number(process.env.FUZZ_RUNS ?? 1);
const RUNS_ANONYMOUS = Math.ceil(30 * SCALE);
const RUNS_BEHIND_DOOR = Math.ceil(30 * SCALE);
/** FUZZ_ONLY=<regex>: only the routes whose pattern matches (to chase one finding). */
const ONLY = new RegExp(process.env.FUZZ_ONLY ?? '');
/** Every answer comes well within this (the slowest legitimate one is the gateway's 1 s upstream timeout). */
const ANSWER_WITHIN_MS = 5000;
const errors: unknown[] = [];
const onError = (e: unknown) => errors.push(e);

interface Route {
  method: string;
  url: string;
}

/** Where a 5xx is the honest answer: an app or IdP that is down on purpose, readiness while catching up. */
function legit5xx(route: Route, status: number): boolean {
  if (route.url.startsWith('/apps/down')) return status === 502 || status === 503 || status === 504;
  if (route.url.startsWith('/oidc/')) return status === 503;
  if (route.url === '/readyz') return status === 503;
  return false;
}

/** Credentials a request carries on top of its junk (phase two: junk behind the front door). */
interface Extra {
  cookies: [string, string][];
  headers: Record<string, string>;
  fields: Pair[];
  /** Sign the raw body as the customer auth server `crm` (HMAC) or `jwtcrm` (JWT). */
  sign?: 'hmac' | 'jwt';
  saml?: SamlCase;
}

const NONE: Extra = { cookies: [], headers: {}, fields: [] };

/** FUZZ_TRACE=<file>: one line per request, in order (a hang can depend on what came before it on the connection). */
function trace(what: string, headers: Record<string, string>, body: string | Uint8Array | undefined, answer: string): void {
  if (!process.env.FUZZ_TRACE) return;
  const b =
    body === undefined
      ? ''
      : typeof body === 'string'
        ? `${JSON.stringify(body.slice(0, 80))} (${body.length} chars)`
        : `<${body.length} bytes>`;
  appendFileSync(
    process.env.FUZZ_TRACE,
    `${what.slice(0, 160)} ${JSON.stringify(headers).slice(0, 300)} ${b} => ${answer.slice(0, 200).replace(/\s+/g, ' ')}\n`,
  );
}

describe('every route, malformed requests over HTTP', () => {
  let w: World;
  let routes: Route[];
  let saml: SamlCase[];
  let sent = 0;
  const slow: string[] = [];
  /** Answers by route and status: shows how far past the front door the junk got. */
  const statuses: Record<string, Record<string, number>> = {};

  beforeAll(async () => {
    process.on('unhandledRejection', onError);
    process.on('uncaughtException', onError);
    w = await startWorld();
    routes = registeredRoutes(w.broker).filter((r) => ONLY.test(r.url));
    saml = await samlCases(w);
  });

  afterAll(async () => {
    if (process.env.FUZZ_STATUSES)
      console.info(
        Object.entries(statuses)
          .map(([r, c]) => `${r.padEnd(36)} ${JSON.stringify(c)}`)
          .join('\n'),
      );
    if (slow.length) console.info(`slow answers (${slow.length}):\n${slow.slice(0, 30).join('\n')}`);
    await w?.stop();
    process.off('unhandledRejection', onError);
    process.off('uncaughtException', onError);
  });

  const good = (): Record<string, string[]> => ({
    serverId: ['crm', 'jwtcrm'],
    siteId: ['site-a', 'legacy'],
    name: ['acme', 'acmepost', 'corp'],
    id: [w.userId, w.adminId, w.totpUserId],
  });

  function arbitraryFor(route: Route, real: string[]): fc.Arbitrary<Junk> {
    const names = route.url.match(/:[A-Za-z]+|\*/g) ?? [];
    const params = names.map((p) => (p === '*' ? wildcard() : paramValue(good()[p.slice(1)] ?? ['x'])));
    const must = ROUTE_KEYS[route.url.replace(/\/(unban|disable|enable)$/, '/ban')] ?? [];
    return junk(w.broker.config.server.baseUrl, real, params, route.method !== 'GET' && route.method !== 'HEAD', must);
  }

  function pathOf(route: Route, j: Junk): string {
    let i = 0;
    const path = route.url.replace(/:[A-Za-z]+|\*/g, () => j.params[i++] ?? '');
    return j.query ? `${path}?${j.query.map(encode).join('&')}` : path;
  }

  async function send(route: Route, j: Junk, extra: Extra): Promise<void> {
    sent++;
    let path = pathOf(route, j);
    if (extra.saml?.sloQuery && route.method === 'GET' && route.url.endsWith('/slo')) path = `${path.split('?')[0]}?${extra.saml.sloQuery}`;
    const headers: Record<string, string> = { ...j.headers, ...extra.headers };
    const cookies = [...extra.cookies, ...(j.cookies ?? [])].map(([k, v]) => `${rawSafe(k, /[\x21-\x3a\x3c-\xff]/)}=${headerSafe(v)}`);
    if (j.rawCookie !== null) cookies.push(headerSafe(j.rawCookie));
    if (cookies.length) headers.cookie = cookies.join('; ');
    let body: string | Uint8Array | undefined;
    if (j.body) {
      const s = serialiseBody(j.body, extra.fields);
      body = s.body;
      if (s.contentType) headers['content-type'] = s.contentType;
    } else if (extra.fields.length && route.method !== 'GET' && route.method !== 'HEAD') {
      body = extra.fields.map(encode).join('&');
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    // SAML messages only where SAML listens, signatures only where a customer server posts: junk
    // credentials on every route would mostly meet a 415 before the code they are meant to reach.
    if (extra.saml && route.method === 'POST' && route.url.startsWith('/saml/')) {
      body = new URLSearchParams({
        SAMLResponse: extra.saml.response,
        ...(extra.saml.relayState ? { RelayState: extra.saml.relayState } : {}),
      }).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    if (extra.sign && route.method === 'POST' && route.url.startsWith('/handoff/') && typeof body === 'string') {
      headers['content-type'] = 'application/json';
      const ts = String(Math.floor(w.clock.now().getTime() / 1000));
      if (extra.sign === 'hmac') {
        headers['x-handoff-timestamp'] = ts;
        headers['x-handoff-signature'] = createHmac('sha256', CRM_SECRET).update(`${ts}.${body}`).digest('hex');
      } else {
        headers.authorization = `Bearer ${await new SignJWT({ body_sha256: createHash('sha256').update(body).digest('base64url') })
          .setProtectedHeader({ alg: 'ES256' })
          .setIssuer('jwtcrm')
          .setAudience(`${w.broker.config.server.baseUrl}/handoff/jwtcrm`)
          .setIssuedAt(w.clock.now())
          .setExpirationTime(Math.floor(w.clock.now().getTime() / 1000) + 60)
          .sign(w.jwtServerKey)}`;
      }
    }
    const logMark = w.logs.length;
    const t0 = performance.now();
    const described = (what: string, response = '') => {
      const logged = w.logs.slice(logMark).filter((l) => Number(l.level) >= 50);
      const preview = body === undefined ? '' : typeof body === 'string' ? body.slice(0, 400) : `<${body.length} bytes>`;
      return new Error(
        `${route.method} ${route.url} ${what}\n` +
          `request: ${route.method} ${path.slice(0, 400)}\nheaders: ${JSON.stringify(headers).slice(0, 1200)}\nbody: ${preview}\n` +
          `response: ${response.slice(0, 400)}\nlogged: ${JSON.stringify(logged).slice(0, 2000)}`,
      );
    };
    let status: number;
    let text: string;
    try {
      const res = await w.pool.request({
        method: route.method,
        path,
        headers,
        body,
        headersTimeout: ANSWER_WITHIN_MS,
        bodyTimeout: ANSWER_WITHIN_MS,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      trace(`no answer ${route.method} ${path}`, headers, body, String(err));
      throw described(`gave no answer within ${ANSWER_WITHIN_MS} ms (${String(err)})`);
    }
    const ms = performance.now() - t0;
    const seen = (statuses[`${route.method} ${route.url}`] ??= {});
    seen[status] = (seen[status] ?? 0) + 1;
    trace(`${Math.round(ms)} ms ${status} ${route.method} ${path}`, headers, body, text);
    if (ms > 300) slow.push(`${Math.round(ms)} ms ${route.method} ${path.slice(0, 100)} -> ${status}`);
    const leak = /\n\s+at .+:\d+:\d+\)?/.test(text);
    if ((status >= 500 && !legit5xx(route, status)) || leak)
      throw described(`answered ${status}${leak ? ' with a stack trace' : ''}`, text);
  }

  /** Fewer runs for HEAD (the GET handler, without a body) and for routes with nothing to parse. */
  const runsFor = (route: Route, base: number): number =>
    route.method === 'HEAD'
      ? Math.ceil(base / 4)
      : /^\/(healthz|readyz|metrics|assets|saml\/assets|\.well-known)/.test(route.url)
        ? Math.ceil(base / 2)
        : base;

  /** Runs one route's property to its first failure (not shrunk: each try is a request; the report names the route and input), then goes on with the next route. */
  async function check<Ts extends unknown[]>(
    failures: string[],
    property: fc.IAsyncProperty<Ts>,
    params: fc.Parameters<Ts>,
  ): Promise<void> {
    const out = await fc.check(property, { ...params, endOnFailure: true });
    if (out.failed)
      failures.push(
        `${String((out.errorInstance as Error | undefined)?.message ?? out.errorInstance).slice(0, 4000)}\n${(fc.defaultReportMessage(out) ?? '').slice(0, 1500)}`,
      );
  }

  async function healthy(): Promise<void> {
    const res = await w.pool.request({ method: 'GET', path: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ status: 'ok' });
  }

  it('finds the routes of every plugin', () => {
    const urls = new Set(routes.map((r) => r.url));
    for (const u of [
      '/healthz',
      '/login',
      '/password/login',
      '/admin/users/:id/ban',
      '/handoff/:serverId',
      '/sso/:siteId',
      '/admin/bans/redeliver',
      '/oauth/token',
      '/apps/wiki/*',
      '/saml/:name/acs',
      '/oidc/:name/callback',
      '/.well-known/jwks.json',
    ]) {
      expect(urls, u).toContain(u);
    }
  });

  it(
    'anonymous junk: never a 5xx, and the event log grows only within the refusal caps',
    async () => {
      const head = await w.broker.store.headPosition();
      const before = sent;
      const real = [...w.loginRequests, w.passwordCsrf.token];
      const failures: string[] = [];
      for (const [i, route] of routes.entries()) {
        // Anyone gets a login form's CSRF pair by asking for the form: with it, junk reaches the password handlers.
        const door = fc.boolean().map((withForm): Extra =>
          withForm
            ? {
                cookies: [['broker_csrf', w.passwordCsrf.cookie]],
                headers: {},
                fields: [{ k: '_csrf', v: w.passwordCsrf.token, raw: false }],
              }
            : NONE,
        );
        await check(
          failures,
          fc.asyncProperty(arbitraryFor(route, real), door, (j, extra) => send(route, j, extra)),
          { seed: SEED + i, numRuns: runsFor(route, RUNS_ANONYMOUS) },
        );
      }
      expect(failures).toEqual([]);
      await healthy();
      const junkRequests = sent - before;
      const passwordPosts = Object.entries(statuses)
        .filter(([r]) => r.startsWith('POST /password/'))
        .reduce((n, [, c]) => n + Object.values(c).reduce((a, b) => a + b, 0), 0);

      const events: RecordedEvent[] = await w.broker.store.readAll({ after: head, limit: 1_000_000 });
      const bucket = (e: RecordedEvent): string => {
        const d = e.data as { issuer?: string };
        if (e.type === 'LoginFailed') {
          if (d.issuer === 'password') return 'LoginFailed password';
          if (d.issuer === w.idp.entityId || d.issuer === 'saml') return 'LoginFailed saml';
          if (d.issuer === w.oidcIssuer) return 'LoginFailed oidc';
          return `LoginFailed ${d.issuer}`;
        }
        return e.type;
      };
      const registered = new Set(
        events
          .filter((e) => e.type === 'UserRegistered' && e.metadata.actor === 'self-registration')
          .map((e) => (e.data as { userId: string }).userId),
      );
      const counts: Record<string, number> = {};
      for (const e of events) {
        const d = e.data as { userId?: string };
        const k = d.userId && registered.has(d.userId) ? 'self-registration' : bucket(e);
        counts[k] = (counts[k] ?? 0) + 1;
      }
      console.info(
        `anonymous junk: ${junkRequests} requests, ${events.length} new events`,
        counts,
        `password-login form posts: ${passwordPosts}`,
      );
      expect(counts['LoginFailed saml'] ?? 0).toBeLessThanOrEqual(SAML_REFUSAL_CAP);
      expect(counts.HandoffRejected ?? 0).toBeLessThanOrEqual(HANDOFF_REJECTION_CAP);
      // The OIDC and setup-link caps are not reached by this much junk (the setup page's per-IP rate
      // limit answers first); test/plugins/oidc/refusal-cap.test.ts and admin/setup-refusal-cap.test.ts
      // drive each past its cap.
      // Intended and per attempt (audit and the account lockout read them): password failures and
      // self-registrations. Everything else anonymous junk writes must be capped.
      const uncapped = Object.entries(counts).filter(
        ([k]) =>
          ![
            'LoginFailed saml',
            'LoginFailed oidc',
            'LoginFailed admin-setup',
            'HandoffRejected',
            'LoginFailed password',
            'self-registration',
          ].includes(k),
      );
      expect(Object.fromEntries(uncapped)).toEqual({});
    },
    60_000 * SCALE,
  );

  // Not capped, by design: the per-account lockout is a read model over these events, so each one
  // counts. What bounds them is the per-IP rate limit on the POST routes (30 a minute by default,
  // lifted in this world): many addresses can still grow the log one LoginFailed per attempt.
  it('records every refused anonymous password attempt as LoginFailed (no cap: the lockout counts them)', async () => {
    const head = await w.broker.store.headPosition();
    const attempts = 40;
    for (let i = 0; i < attempts; i++) {
      const res = await w.pool.request({
        method: 'POST',
        path: '/password/login',
        headers: { cookie: `broker_csrf=${w.passwordCsrf.cookie}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: w.passwordCsrf.token, email: `nobody-${i}@example.com`, password: `guess ${i}` }).toString(),
      });
      expect(res.statusCode).toBe(401);
      await res.body.dump();
    }
    const failed = (await w.broker.store.readAll({ after: head, limit: 10_000 })).filter(
      (e) => e.type === 'LoginFailed' && (e.data as { issuer: string }).issuer === 'password',
    );
    console.info(`password-login: ${attempts} anonymous attempts with unknown emails -> ${failed.length} LoginFailed events`);
    expect(failed.length).toBe(attempts);
  });

  it(
    'junk behind the front door (sessions, CSRF tokens, client and server credentials, SAML bindings): never a 5xx',
    async () => {
      const real = [...w.loginRequests, w.passwordCsrf.token, w.mfaTicket, w.enrollSealed, w.accessToken, w.userId, w.adminId];
      type Door = {
        session: string;
        csrf: string;
        password: boolean;
        auth: string;
        sign: 'hmac' | 'jwt' | undefined;
        saml: number | null;
        tokens: boolean;
      };
      const door: fc.Arbitrary<Door> = fc.record({
        session: fc.constantFrom('none', 'user', 'admin'),
        csrf: fc.constantFrom('none', 'header', 'field'),
        password: fc.boolean(),
        auth: fc.constantFrom('junk', 'junk', 'admin', 'client', 'at', 'upstream'),
        sign: fc.constantFrom<'hmac' | 'jwt' | undefined>(undefined, 'hmac', 'jwt'),
        saml: fc.option(fc.nat(saml.length - 1), { freq: 2 }),
        tokens: fc.boolean(),
      });
      const extraFor = async (d: Door): Promise<Extra> => {
        const e: Extra = { cookies: [], headers: {}, fields: [] };
        const s = await w.sessions();
        if (d.session !== 'none') {
          const who = d.session === 'user' ? s.user : s.admin;
          e.cookies.push(['broker_session', who.token]);
          if (d.csrf === 'header') e.headers['x-csrf-token'] = who.csrf;
          if (d.csrf === 'field') e.fields.push({ k: '_csrf', v: who.csrf, raw: false });
        }
        if (d.password) {
          e.cookies.push(['broker_csrf', w.passwordCsrf.cookie]);
          e.fields.push({ k: '_csrf', v: w.passwordCsrf.token, raw: false });
        }
        if (d.auth === 'admin') e.headers.authorization = `Bearer ${w.adminApiToken}`;
        if (d.auth === 'client') e.headers.authorization = `Basic ${Buffer.from(`web:${CLIENT_SECRET}`).toString('base64')}`;
        if (d.auth === 'at') e.headers.authorization = `Bearer ${w.accessToken}`;
        if (d.auth === 'upstream') e.headers.authorization = 'Bearer upstream-ok';
        if (d.tokens)
          e.fields.push(
            { k: 'ticket', v: w.mfaTicket, raw: false },
            { k: 'sealed', v: w.enrollSealed, raw: false },
            { k: 'lr', v: w.loginRequests[0], raw: false },
          );
        e.sign = d.sign;
        if (d.saml !== null) {
          e.saml = saml[d.saml];
          e.cookies.push(...saml[d.saml].cookies);
        }
        return e;
      };
      const failures: string[] = [];
      for (const [i, route] of routes.entries()) {
        await check(
          failures,
          fc.asyncProperty(arbitraryFor(route, real), door, async (j, d) => send(route, j, await extraFor(d))),
          { seed: SEED + 1000 + i, numRuns: runsFor(route, RUNS_BEHIND_DOOR) },
        );
      }
      expect(failures).toEqual([]);
      await healthy();
    },
    60_000 * SCALE,
  );

  it('raw bytes a client library would not send: the broker answers each with a 4xx and stays up', async () => {
    const port = Number(new URL(w.url).port);
    const raw = [
      'GET /\xff\xfe/%%%?lr=\xc3\x28 HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /saml/acme/slo?SAMLRequest=%zz&SigAlg=\x80 HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      'POST /password/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\nemail=\xff\xfe\x00',
      'GET /login HTTP/1.1\r\nHost: x\r\nCookie: broker_session=\x01\x02\r\n\r\n',
      'GET /login HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n',
      'GET /login HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n',
      'GET /login HTTP/1.1\r\nHost: x\nAccept: text/html\n\n',
      `GET /login?${'a=1&'.repeat(5000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /login HTTP/1.1\r\nHost: x\r\nCookie: ${'c=1; '.repeat(5000)}\r\n\r\n`,
      'POST /handoff/crm HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{',
      'GET /healthz HTTP/1.1\r\n\r\n',
      'DELETE /saml/acme/acs HTTP/1.1\r\nHost: x\r\n\r\n',
      'BREW /login HTTP/1.1\r\nHost: x\r\n\r\n',
    ];
    for (const req of raw) {
      const answer = await new Promise<string>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        let got = '';
        socket.on('data', (d) => {
          got += d.toString('latin1');
          if (/\r\n\r\n/.test(got)) socket.destroy();
        });
        socket.on('close', () => resolve(got));
        socket.on('error', () => resolve(got));
        socket.setTimeout(ANSWER_WITHIN_MS, () => socket.destroy());
        socket.write(Buffer.from(req, 'latin1'));
      });
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
      expect(status >= 400 && status < 500, `${JSON.stringify(req.slice(0, 120))} -> ${answer.slice(0, 200) || 'no answer'}`).toBe(true);
    }
    await healthy();
  });

  // After every test, not as a test of its own (which, run alone, would check nothing).
  afterEach(() => {
    expect(errors).toEqual([]);
    const unhandled = new Set(w.logs.filter((l) => l.msg === 'unhandled error').map((l) => JSON.stringify(l.err).slice(0, 600)));
    expect([...unhandled]).toEqual([]);
  });
});
