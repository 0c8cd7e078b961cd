// Child process of bench/login.ts: a bare fastify 5 app and a broker (password-login plugin at the
// default Argon2 parameters, plus a bench plugin with one route behind the session check and one
// without). Prints their URLs, a session cookie and what a password login POST needs.
import Fastify from 'fastify';
import { bootBroker, type Plugin } from '../adapters/kernel/boot.js';
import { MemoryEventStore } from '../adapters/event-stores/memory.js';
import passwordLogin from '../plugins/password-login/index.js';
import { PasswordHasher, DEFAULT_ARGON2 } from '../adapters/crypto/password-hasher.js';

const bare = Fastify({ logger: false });
bare.get('/bare', async () => ({ ok: true }));
const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' });

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

// CPU time per request through the whole fastify pipeline (inject: no sockets), measured with
// process.cpuUsage, so a busy neighbour on a shared machine skews it far less than req/s.
async function cpuPerRequest(app: { inject(o: object): Promise<unknown> }, url: string, n = 20000): Promise<number> {
  const headers = { cookie: `broker_session=${out.sessionToken}` };
  for (let i = 0; i < 2000; i++) await app.inject({ url, headers });
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await app.inject({ url, headers });
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}
// Three interleaved rounds, the minimum of each kept (interference only ever adds time). Only in
// a child started with BENCH_INJECT=1, which serves no socket load: inject's request and response
// objects are not node's, and once the routes have seen both kinds their code is slower on
// sockets (measured: the session check's cost over sockets tripled after an inject phase).
const cpu = { bare: Infinity, open: Infinity, session: Infinity };
for (let round = 0; round < (process.env.BENCH_INJECT === '1' ? 3 : 0); round++) {
  cpu.bare = Math.min(cpu.bare, await cpuPerRequest(bare, '/bare', 10000));
  cpu.open = Math.min(cpu.open, await cpuPerRequest(broker.app, '/bench/open', 10000));
  cpu.session = Math.min(cpu.session, await cpuPerRequest(broker.app, '/bench/session', 10000));
}

process.stdout.write(JSON.stringify({ bareUrl, brokerUrl, cookie: `broker_session=${out.sessionToken}`, csrfCookie, loginBody, cpu }) + '\n');
process.on('SIGTERM', async () => {
  await bare.close();
  await broker.stop();
  process.exit(0);
});
