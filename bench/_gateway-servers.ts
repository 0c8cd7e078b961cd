// Child process of bench/gateway.ts, one app per process (apps sharing a process slow each other
// down, by a different amount in each process: measured): `bare`, a bare @fastify/http-proxy (no
// authentication), or `broker`, the broker's gateway; both forward to the upstream given as argv[2].
// Prints its URL (and, for the broker, a session cookie and a bearer token).
import Fastify from 'fastify';
import httpProxy from '@fastify/http-proxy';
import { benchBrokerConfig } from './_broker-config.js';
import { bootBroker } from '../adapters/kernel/boot.js';
import { MemoryEventStore } from '../adapters/event-stores/memory.js';
import gateway from '../plugins/gateway/index.js';

const upstream = process.argv[2];
if (process.argv[3] === 'bare') {
  const bare = Fastify({ logger: false });
  await bare.register(httpProxy, { upstream, prefix: '/apps/bench' });
  process.stdout.write(JSON.stringify({ url: await bare.listen({ port: 0, host: '127.0.0.1' }) }) + '\n');
  process.on('SIGTERM', async () => {
    await bare.close();
    process.exit(0);
  });
} else {
  const broker = await bootBroker(benchBrokerConfig(), {
    store: new MemoryEventStore(),
    plugins: [{ plugin: gateway, config: { routes: [{ id: 'bench', pathPrefix: '/apps/bench', upstream }] } }],
  });
  const brokerUrl = await broker.listen();
  const { userId } = await broker.users.register({ email: 'bench@example.com' }, { actor: 'bench' });
  const out = await broker.login.complete({ issuer: 'local', subject: userId, userId, amr: ['pwd'] });
  let bearer: string | null = null;
  const keys = broker.container.isBound(Symbol.for('broker.SigningKeys'))
    ? broker.container.get<{ sign(p: object, o: { typ: string }): Promise<string> }>(Symbol.for('broker.SigningKeys'))
    : null;
  if (keys) {
    const iat = Math.floor(Date.now() / 1000);
    bearer = await keys.sign(
      {
        iss: 'http://127.0.0.1',
        sub: userId,
        aud: 'bench',
        client_id: 'bench',
        scope: 'openid',
        iat,
        exp: iat + 3600,
        jti: 'bench',
        sid: out.session.sessionId,
      },
      { typ: 'at+jwt' },
    );
  }
  process.stdout.write(JSON.stringify({ brokerUrl, cookie: `broker_session=${out.sessionToken}`, bearer }) + '\n');
  process.on('SIGTERM', async () => {
    await broker.stop();
    process.exit(0);
  });
}
