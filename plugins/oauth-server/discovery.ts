import type { FastifyInstance } from 'fastify';
import type { SigningKeys } from '../../adapters/crypto/signing-keys.js';
import type { ClientRegistry } from './clients.js';

/** RFC 8414 and OIDC Discovery 1.0 §3: every endpoint this server has, and nothing it lacks. */
export function metadata(issuer: string, keys: SigningKeys, clients: ClientRegistry): Record<string, unknown> {
  const scopes = new Set<string>(['openid', 'profile', 'email', 'offline_access']);
  for (const c of clients.byId.values()) for (const s of c.scopes) scopes.add(s);
  const authMethods = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    userinfo_endpoint: `${issuer}/oauth/userinfo`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    check_token_endpoint: `${issuer}/oauth/check-token`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    end_session_endpoint: `${issuer}/oauth/logout`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [keys.current().alg],
    token_endpoint_auth_methods_supported: [...authMethods, 'none'],
    token_endpoint_auth_signing_alg_values_supported: ['ES256', 'RS256', 'PS256', 'EdDSA'],
    introspection_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_methods_supported: [...authMethods, 'none'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: [...scopes],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'sid', 'email', 'name', 'roles', 'tenant'],
    prompt_values_supported: ['none', 'login', 'consent'],
    authorization_response_iss_parameter_supported: true,
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    claims_parameter_supported: false,
  };
}

export function registerDiscovery(app: FastifyInstance, issuer: string, keys: SigningKeys, clients: ClientRegistry): void {
  const send = async (_req: unknown, reply: import('fastify').FastifyReply) =>
    reply
      .header('cache-control', 'public, max-age=300')
      .header('x-content-type-options', 'nosniff')
      .header('access-control-allow-origin', '*')
      .send(metadata(issuer, keys, clients));
  app.get('/.well-known/openid-configuration', { helmet: false }, send);
  app.get('/.well-known/oauth-authorization-server', { helmet: false }, send);
}
