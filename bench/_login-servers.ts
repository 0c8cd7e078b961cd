// Child process of bench/login.ts, one role per process (argv[2]), so that each app's code is
// compiled for that app alone, as in a deployment (several apps in one process share fastify's code
// and slow each other down in ways that vary from process to process: measured):
// - `bare`: a bare fastify 5 app with one route, the plainest answer;
// - `same`: a bare fastify 5 app answering the same exchange as the session check;
// - `broker`: a broker (password-login plugin at the default Argon2 parameters, plus a bench plugin
//   with one route behind the session check and one without); prints a session cookie and what a
//   password login POST needs;
// - `floor <token> <userId> <expiresAtMs>`: plain fastify doing only the check's per-request work,
//   knowing the broker's session by its token;
// - `logins`: a broker with password-login and passkey at their defaults, on the base URL
//   http://localhost (WebAuthn wants a domain); a password user and a user who will add passkeys.
// Prints one JSON line: its URL and what the bench needs.
import Fastify from 'fastify';
import { fastifyCookie } from '@fastify/cookie';
import { benchBrokerConfig } from './_broker-config.js';
import { bootBroker, type Plugin } from '../adapters/kernel/boot.js';
import { requestIds } from '../adapters/http/logging.js';
import { MemoryEventStore } from '../adapters/event-stores/memory.js';
import passwordLogin from '../plugins/password-login/index.js';
import passkey from '../plugins/passkey/index.js';
import { PW as PASSKEY_USER_PASSWORD } from '../test/plugins/passkey/passkey-world.js';
import { PasswordHasher, DEFAULT_ARGON2 } from '../adapters/crypto/password-hasher.js';

const role = process.argv[2];
const listen = (app: { listen: (o: { port: number; host: string }) => Promise<string> }) => app.listen({ port: 0, host: '127.0.0.1' });
const ready = (info: Record<string, unknown>, close: () => Promise<unknown>) => {
  process.stdout.write(JSON.stringify(info) + '\n');
  process.on('SIGTERM', async () => {
    await close();
    process.exit(0);
  });
};

if (role === 'bare' || role === 'same') {
  const bare = Fastify({ logger: false });
  if (role === 'bare') bare.get('/bare', async () => ({ ok: true }));
  // The same exchange as the route behind the check (its cookie comes in, a user id of the same
  // length goes out), with no work: what the check costs beyond the bytes it reads and answers.
  else bare.get('/bare-same', async () => ({ ok: true, user: '00000000-0000-4000-8000-000000000000' }));
  ready({ url: await listen(bare) }, () => bare.close());
} else if (role === 'floor') {
  // The floor: plain fastify doing only the per-request work the broker must do on this route, as
  // tightly as fastify allows: a request id made as the broker makes it (a process prefix and a
  // counter) with the request's start time, the five API security headers and a request counter
  // with a duration histogram in one onSend hook, the session cookie parsed and looked up (by the
  // token itself: no hash, as a cache of seen tokens would give), the expiry checked, the user id
  // answered. No logger, no plugin scopes, no user status.
  const nextId = requestIds();
  const started = Symbol('start');
  const floor = Fastify({
    logger: false,
    genReqId: (raw) => {
      (raw as { [started]?: number })[started] = performance.now();
      return nextId();
    },
  });
  // @fastify/cookie without its hook, for its parser (as the broker parses).
  await floor.register(fastifyCookie, { hook: false });
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
  floor.addHook('onSend', (_req, reply, payload, done) => {
    for (const [k, v] of apiHeaders) reply.header(k, v);
    const t = (performance.now() - (reply.request.raw as { [started]?: number })[started]!) / 1000;
    for (let i = 0; i < floorBuckets.length; i++) if (t <= floorBuckets[i]) floorCounts[i]++;
    done(null, payload);
  });
  floor.get('/floor', async (req, reply) => {
    const token = req.server.parseCookie(req.headers.cookie ?? '').broker_session;
    const s = token ? floorSessions.get(token) : undefined;
    if (!s || s.expiresAtMs <= Date.now()) return reply.code(401).send({ ok: false });
    return { ok: true, user: s.userId };
  });

  floorSessions.set(process.argv[3], { userId: process.argv[4], expiresAtMs: Number(process.argv[5]) });
  ready({ url: await listen(floor) }, () => floor.close());
} else if (role === 'broker' || role === 'logins') {
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

  const config = benchBrokerConfig();
  if (role === 'logins') config.server.baseUrl = 'http://localhost';
  const broker = await bootBroker(config, {
    store: new MemoryEventStore(),
    // `broker plain`: personal fields in clear, to measure what sealing them costs (issue 19).
    sealPersonalData: process.argv[3] !== 'plain',
    plugins: [
      { plugin: passwordLogin, config: { rateLimit: { max: 1_000_000, windowSeconds: 60 }, lockout: { maxFailures: 1000 } } },
      ...(role === 'logins'
        ? [{ plugin: passkey, config: { rateLimit: { max: 1_000_000, windowSeconds: 60 } } }]
        : [{ plugin: benchRoutes }]),
    ],
  });
  const brokerUrl = await broker.listen();
  const password = 'bench password 123';
  const { userId } = await broker.users.register({ email: 'bench@example.com' }, { actor: 'bench' });
  await broker.users.execute(
    userId,
    { type: 'setPassword', passwordHash: await new PasswordHasher(DEFAULT_ARGON2).hash(password) },
    { actor: 'bench' },
  );
  const out = await broker.login.complete({ issuer: 'password', subject: userId, userId, amr: ['pwd'] });
  if (role === 'logins') {
    const pk = await broker.users.register({ email: 'passkey@example.com' }, { actor: 'bench' });
    const r = await broker.users.execute(
      pk.userId,
      { type: 'setPassword', passwordHash: await new PasswordHasher(DEFAULT_ARGON2).hash(PASSKEY_USER_PASSWORD) },
      { actor: 'bench' },
    );
    await broker.projections.waitFor(r.position);
  }

  // A CSRF secret cookie and a token for the login form, as a browser would hold them.
  const form = await fetch(`${brokerUrl}/password/login?return_to=/`, { redirect: 'manual' });
  const lrPath = form.headers.get('location')!; // -> /login?lr=...
  const chooser = await fetch(`${brokerUrl}${lrPath}`, { redirect: 'manual' });
  const page = await fetch(`${brokerUrl}${chooser.headers.get('location')!}`);
  const csrfCookie = page.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith('broker_csrf='))!;
  const html = await page.text();
  const val = (name: string) =>
    /name="NAME" value="([^"]*)"/.exec(html.replace(/NAME/g, name)) ?? new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  const csrf = val('_csrf')![1];
  const lr = val('lr')![1].replace(/&amp;/g, '&');
  const loginBody = new URLSearchParams({ _csrf: csrf, lr, email: 'bench@example.com', password }).toString();

  ready(
    {
      url: brokerUrl,
      token: out.sessionToken,
      userId,
      expiresAtMs: out.session.expiresAtMs,
      cookie: `broker_session=${out.sessionToken}`,
      csrfCookie,
      loginBody,
    },
    () => broker.stop(),
  );
} else {
  throw new Error(`unknown role ${role}`);
}
