import type { FastifyInstance } from 'fastify';
import type { SigningKeys } from './signing-keys.js';

/**
 * `GET /.well-known/jwks.json`: the broker's public signing keys (RFC 7517). Served by the core
 * routes whether or not the OAuth server is loaded (ban SETs and gateway tokens are verified with
 * it too). A short max-age, so relying parties pick up a rotation well inside the overlap period.
 */
export function registerJwksRoute(app: FastifyInstance, keys: SigningKeys): void {
  app.get('/.well-known/jwks.json', { helmet: false }, async (_req, reply) =>
    reply
      .header('cache-control', 'public, max-age=300')
      .header('x-content-type-options', 'nosniff')
      .header('access-control-allow-origin', '*')
      .type('application/jwk-set+json')
      .send(JSON.stringify(keys.jwksSync())),
  );
}
