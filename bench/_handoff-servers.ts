// Child process for bench/handoff.ts, one app per process (apps sharing a process slow each other
// down, by a different amount in each process: measured): `broker`, a broker with the hmac-handoff
// plugin and one logged-in session; `bare`, a bare fastify redirect route.
import Fastify from 'fastify';
import { benchBrokerConfig } from './_broker-config.js';
import { bootBroker } from '../adapters/kernel/boot.js';
import { MemoryEventStore } from '../adapters/event-stores/memory.js';
import plugin from '../plugins/hmac-handoff/index.js';

const RETURN = 'https://site.bench/callback';
if (process.argv[2] === 'bare') {
  const bare = Fastify({ logger: false });
  // The same answer's shape as the handoff's baseline: a user id in the query.
  bare.get('/redirect', async (_req, reply) => reply.redirect(`${RETURN}?user=00000000-0000-4000-8000-000000000000`, 303));
  console.log(JSON.stringify({ url: await bare.listen({ port: 0, host: '127.0.0.1' }) }));
} else {
  const config = benchBrokerConfig([
    {
      id: 'bench',
      name: 'Bench',
      returnUrls: [RETURN],
      handoff: { keys: [{ kid: 'k1', secret: 'bench-site-secret-0123456789' }], fields: ['email', 'name'] },
    },
  ]);
  const broker = await bootBroker(config, {
    store: new MemoryEventStore(),
    plugins: [
      { plugin, config: { rateLimit: { browser: { max: 1_000_000, windowSeconds: 60 }, server: { max: 1_000_000, windowSeconds: 60 } } } },
    ],
  });
  // The broker's own baseline: a trivial 303 through the same server (helmet, cookies, error handling).
  broker.app.get('/bench/redirect', async (_req, reply) => reply.redirect(`${RETURN}?user=bench`, 303));
  const brokerUrl = await broker.listen();
  const { userId } = await broker.users.register({ email: 'bench@example.test', name: 'Bench User' }, { actor: 'bench' });
  const { sessionToken } = await broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] });

  console.log(
    JSON.stringify({ brokerUrl, cookie: `broker_session=${sessionToken}`, returnTo: RETURN, key: config.sites[0].handoff!.keys[0] }),
  );
  // Exit cleanly on a signal (so `--cpu-prof` can write its profile when profiling this child).
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(0));
