// Child process for bench/oauth.ts: starts ONE server (argv[2]: broker | oidc-provider | bare) on
// 127.0.0.1 and prints one JSON line with its URL and what the load generator needs.
import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import Fastify from 'fastify';

const mode = process.argv[2];
interface OidcProvider {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
  interactionDetails(req: http.IncomingMessage, res: http.ServerResponse): Promise<{ params: Record<string, unknown> }>;
  interactionFinished(req: http.IncomingMessage, res: http.ServerResponse, result: unknown, opts: unknown): Promise<void>;
  Grant: new (o: { accountId: string; clientId: string }) => { addOIDCScope(s: string): void; save(): Promise<string> };
}

export const SECRET = 'bench-client-secret-0123456789';
export const REDIRECT = 'https://app.example/cb';

// A clean exit on SIGTERM, so `node --cpu-prof` can write its profile of this server.
process.on('SIGTERM', () => process.exit(0));
if (mode === 'bare') {
  const app = Fastify({ logger: false });
  app.get('/__cpu', async () => process.cpuUsage());
  app.get('/', { schema: { response: { 200: { type: 'object', properties: { hello: { type: 'string' } } } } } }, async () => ({
    hello: 'world',
  }));
  // The same request and answer shape as an introspection (a form body carrying a token, Basic
  // auth, an RFC 7662 answer of the same size), with no work behind it: what fastify and the
  // sockets cost for that exchange alone on this machine.
  const { default: formbody } = await import('@fastify/formbody');
  await app.register(formbody);
  app.post('/introspect-shaped', async (req, reply) => {
    const body = req.body as { token?: string };
    if (!body?.token || !req.headers.authorization) return reply.code(400).send({ error: 'invalid_request' });
    const now = Math.floor(Date.now() / 1000);
    return reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' }).send({
      active: true,
      sub: 'bench',
      client_id: 'bench',
      scope: 'api',
      token_type: 'Bearer',
      exp: now + 300,
      iat: now,
      nbf: now,
      iss: url,
      aud: url,
      jti: '0efa2bf75ed14c3e9d22559a8281be92',
    });
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  console.log(JSON.stringify({ url }));
} else if (mode === 'broker') {
  const { bootBroker } = await import('../adapters/kernel/boot.js');
  const { MemoryEventStore } = await import('../adapters/event-stores/memory.js');
  const { pino } = await import('pino');
  const net = await import('node:net');
  const port = await new Promise<number>((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const broker = await bootBroker(
    {
      server: { host: '127.0.0.1', port, baseUrl: url, trustProxy: false, insecureCookies: true },
      dataDir: '/nonexistent',
      store: { kind: 'memory' },
      secrets: { masterKey: 'bench-master-key-'.padEnd(48, 'x') },
      session: { absoluteSeconds: 8 * 3600, idleSeconds: 3600 },
      log: { level: 'silent' },
      admin: { apiTokens: [] },
      sites: [],
      plugins: [
        {
          name: 'oauth-server',
          config: {
            clients: [
              // first-party: no consent page, like the pre-granted consent given to oidc-provider
              {
                clientId: 'bench',
                secret: SECRET,
                redirectUris: [REDIRECT],
                scopes: ['openid', 'offline_access', 'api'],
                grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
                firstParty: true,
              },
            ],
          },
        },
      ],
    },
    {
      store: new MemoryEventStore(),
      logger: pino({ level: 'silent' }),
      // Server CPU time, read by the load generator around each run (robust to a noisy machine).
      plugins: [{ plugin: { name: 'bench-cpu', register: (ctx) => void ctx.web.app.get('/__cpu', async () => process.cpuUsage()) } }],
    },
  );
  await broker.listen();
  const { userId } = await broker.users.register({ email: 'bench@example.com', name: 'Bench' }, { actor: 'bench' });
  const out = await broker.login.complete({ issuer: 'bench', subject: userId, userId, amr: ['pwd'] });
  console.log(
    JSON.stringify({
      url,
      cookie: `broker_session=${out.sessionToken}`,
      paths: { token: '/oauth/token', introspect: '/oauth/introspect', authorize: '/oauth/authorize' },
    }),
  );
} else if (mode === 'oidc-provider' || mode === 'oidc-provider-jwt') {
  // oidc-provider ships no type declarations; the bench uses a few of its documented calls.
  const specifier = 'oidc-provider';
  const { default: Provider } = (await import(specifier)) as { default: new (issuer: string, config: unknown) => OidcProvider };
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...(privateKey.export({ format: 'jwk' }) as Record<string, string>), kid: 'k1', alg: 'ES256', use: 'sig' };
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  // Equivalent setup: in-memory adapter (the default), opaque access tokens (the default format),
  // client_secret_basic, ES256 ID tokens, PKCE, introspection and client credentials enabled.
  const provider = new Provider(url, {
    clients: [
      {
        client_id: 'bench',
        client_secret: SECRET,
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'ES256',
        scope: 'openid offline_access api',
      },
    ],
    jwks: { keys: [jwk] },
    scopes: ['openid', 'offline_access', 'api'],
    features: {
      introspection: { enabled: true },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      devInteractions: { enabled: false },
      // `oidc-provider-jwt`: access tokens in the broker's own format (RFC 9068 JWTs signed ES256)
      // through a resource indicator, so a client_credentials token costs it a signature too.
      ...(mode === 'oidc-provider-jwt'
        ? {
            resourceIndicators: {
              enabled: true,
              defaultResource: () => 'urn:bench:api',
              useGrantedResource: () => true,
              getResourceServerInfo: () => ({
                scope: 'api',
                audience: 'urn:bench:api',
                accessTokenFormat: 'jwt',
                jwt: { sign: { alg: 'ES256' } },
              }),
            },
          }
        : {}),
    },
    cookies: { keys: ['bench-cookie-key-0123456789abcdef'] },
    findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
  });
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (req.url === '/__cpu') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(process.cpuUsage()));
      return;
    }
    if (req.url?.startsWith('/interaction/')) {
      // The one-time login + consent (the bench measures flows with an existing session and grant).
      void (async () => {
        const details = await provider.interactionDetails(req, res);
        const grant = new provider.Grant({ accountId: 'bench-user', clientId: 'bench' });
        grant.addOIDCScope(String((details.params as { scope?: string }).scope ?? 'openid'));
        const grantId = await grant.save();
        await provider.interactionFinished(
          req,
          res,
          { login: { accountId: 'bench-user' }, consent: { grantId } },
          { mergeWithLastSubmission: false },
        );
      })().catch((e: unknown) => {
        res.statusCode = 500;
        res.end(String(e));
      });
      return;
    }
    callback(req, res);
  });
  console.log(JSON.stringify({ url, cookie: null, paths: { token: '/token', introspect: '/token/introspection', authorize: '/auth' } }));
}
