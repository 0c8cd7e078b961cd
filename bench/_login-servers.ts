// Child process of bench/login.ts: a bare fastify 5 app (two routes: the plainest answer, and the
// same exchange as the session check), the floor (plain fastify doing only the check's per-request
// work), and a broker (password-login plugin at the default Argon2 parameters, plus a bench plugin
// with one route behind the session check and one without). Prints their URLs, a session cookie and
// what a password login POST needs. Everything is measured over sockets: an inject phase in this
// process would leave the routes' code slower on sockets afterwards (measured).
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { fastifyCookie } from '@fastify/cookie';
import { bootBroker, type Plugin } from '../adapters/kernel/boot.js';
import { MemoryEventStore } from '../adapters/event-stores/memory.js';
import passwordLogin from '../plugins/password-login/index.js';
import { PasswordHasher, DEFAULT_ARGON2 } from '../adapters/crypto/password-hasher.js';

const bare = Fastify({ logger: false });
bare.get('/bare', async () => ({ ok: true }));
// The same exchange as the route behind the check (its cookie comes in, a user id of the same
// length goes out), with no work: what the check costs beyond the bytes it reads and answers.
bare.get('/bare-same', async () => ({ ok: true, user: '00000000-0000-4000-8000-000000000000' }));
const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' });

// The floor: plain fastify doing only the per-request work the broker must do on this route, as
// tightly as fastify allows: a uuid request id, the five API security headers and a request
// counter with a duration histogram in one onSend hook, the session cookie parsed and looked up
// (by the token itself: no hash, as a cache of seen tokens would give), the expiry checked, the user
// id answered. No logger, no plugin scopes, no user status.
const floor = Fastify({ logger: false, genReqId: () => randomUUID() });
const floorSessions = new Map<string, { userId: string; expiresAtMs: number }>();
const apiHeaders: [string, string][] = [
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['cross-origin-resource-policy', 'same-site'],
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['strict-transport-security', 'max-age=31536000; includeSubDomains'],
];
const floorBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const floorCounts = floorBuckets.map(() => 0);
let floorRequests = 0;
floor.addHook('onSend', (_req, reply, payload, done) => {
  for (const [k, v] of apiHeaders) reply.header(k, v);
  floorRequests++;
  const t = reply.elapsedTime / 1000;
  for (let i = 0; i < floorBuckets.length; i++) if (t <= floorBuckets[i]) floorCounts[i]++;
  done(null, payload);
});
floor.get('/floor', async (req, reply) => {
  const token = fastifyCookie.parse(req.headers.cookie ?? '').broker_session;
  const s = token ? floorSessions.get(token) : undefined;
  if (!s || s.expiresAtMs <= Date.now()) return reply.code(401).send({ ok: false });
  return { ok: true, user: s.userId };
});
const floorUrl = await floor.listen({ port: 0, host: '127.0.0.1' });

const benchRoutes: Plugin = {
  name: 'bench-routes',
  register(ctx) {
    ctx.web.app.get('/bench/open', async () => ({ ok: true }));
    // What every downstream hit pays: the cookie, one hash, map look-ups, the user's status.
    ctx.web.app.get('/bench/session', async (req, reply) => {
      const s = ctx.web.session(req);
      if (!s) return reply.code(401).send({ ok: false });
      return { ok: true, user: s.userId };
    });
  },
};

const broker = await bootBroker(
  {
    server: { host: '127.0.0.1', port: 0, baseUrl: 'http://127.0.0.1', trustProxy: false, insecureCookies: true },
    dataDir: '/nonexistent',
    store: { kind: 'memory' },
    secrets: { masterKey: 'b'.repeat(32) },
    session: { absoluteSeconds: 3600, idleSeconds: 3600 },
    log: { level: 'silent' },
    admin: { apiTokens: [] },
    sites: [],
    plugins: [],
  } as never,
  {
    store: new MemoryEventStore(),
    plugins: [
      { plugin: passwordLogin, config: { rateLimit: { max: 1_000_000, windowSeconds: 60 }, lockout: { maxFailures: 1000 } } },
      { plugin: benchRoutes },
    ],
  },
);
const brokerUrl = await broker.listen();
const password = 'bench password 123';
const { userId } = await broker.users.register({ email: 'bench@example.com' }, { actor: 'bench' });
await broker.users.execute(userId, { type: 'setPassword', passwordHash: await new PasswordHasher(DEFAULT_ARGON2).hash(password) }, { actor: 'bench' });
const out = await broker.login.complete({ issuer: 'password', subject: userId, userId, amr: ['pwd'] });
floorSessions.set(out.sessionToken, { userId, expiresAtMs: out.session.expiresAtMs });

// A CSRF secret cookie and a token for the login form, as a browser would hold them.
const form = await fetch(`${brokerUrl}/password/login?return_to=/`, { redirect: 'manual' });
const lrPath = form.headers.get('location')!; // -> /login?lr=...
const chooser = await fetch(`${brokerUrl}${lrPath}`, { redirect: 'manual' });
const page = await fetch(`${brokerUrl}${chooser.headers.get('location')!}`);
const csrfCookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c.startsWith('broker_csrf='))!;
const html = await page.text();
const val = (name: string) => /name="NAME" value="([^"]*)"/.exec(html.replace(/NAME/g, name)) ?? new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
const csrf = val('_csrf')![1];
const lr = val('lr')![1].replace(/&amp;/g, '&');
const loginBody = new URLSearchParams({ _csrf: csrf, lr, email: 'bench@example.com', password }).toString();

process.stdout.write(JSON.stringify({ bareUrl, floorUrl, brokerUrl, cookie: `broker_session=${out.sessionToken}`, csrfCookie, loginBody }) + '\n');
process.on('SIGTERM', async () => {
  await bare.close();
  await floor.close();
  await broker.stop();
  process.exit(0);
});
