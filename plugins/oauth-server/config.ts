import type { JsonSchema } from '../../plugin/index.js';

export type AuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';
export type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials';

export interface ClientConfig {
  clientId: string;
  name?: string;
  /** `none` makes a public client (PKCE required); default `client_secret_basic`. */
  tokenEndpointAuthMethod?: AuthMethod;
  /** For client_secret_*: in config (use `${ENV}`), only its hash reaches the log. */
  secret?: string;
  /** For private_key_jwt: the client's public keys. */
  jwks?: { keys: Record<string, unknown>[] };
  /** Exact redirect URIs (RFC 9700 §4.1.3: no pattern matching). */
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  scopes?: string[];
  grantTypes?: GrantType[];
  /** First-party clients skip the consent page. */
  firstParty?: boolean;
  /** OIDC Back-Channel Logout 1.0. */
  backchannelLogoutUri?: string;
  /** `aud` of this client's access tokens (the API or gateway app that accepts them); default: the server's. */
  audience?: string;
}

export interface OAuthServerConfig {
  clients: ClientConfig[];
  /** Default: the broker's base URL. */
  issuer?: string;
  /** `aud` of access tokens (the resource server(s) that accept them); default `<issuer>/api`. */
  audience?: string;
  accessTokenTtlSeconds: number;
  idTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  codeTtlSeconds: number;
}

const uri = { type: 'string', minLength: 1, maxLength: 2048, pattern: '^https?://' };

export const configSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    issuer: uri,
    audience: { type: 'string', minLength: 1, maxLength: 2048 },
    accessTokenTtlSeconds: { type: 'integer', minimum: 30, maximum: 86400, default: 3600 },
    idTokenTtlSeconds: { type: 'integer', minimum: 30, maximum: 86400, default: 3600 },
    refreshTokenTtlSeconds: { type: 'integer', minimum: 60, maximum: 31536000, default: 30 * 86400 },
    // RFC 6749 §4.1.2: a maximum lifetime of 10 minutes is recommended.
    codeTtlSeconds: { type: 'integer', minimum: 10, maximum: 600, default: 600 },
    clients: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['clientId'],
        properties: {
          clientId: { type: 'string', pattern: '^[A-Za-z0-9._~-]{1,128}$' },
          name: { type: 'string', maxLength: 200 },
          tokenEndpointAuthMethod: {
            enum: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
            default: 'client_secret_basic',
          },
          secret: { type: 'string', minLength: 16, maxLength: 512 },
          jwks: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: { type: 'object' } } } },
          redirectUris: { type: 'array', items: uri, default: [] },
          postLogoutRedirectUris: { type: 'array', items: uri, default: [] },
          scopes: {
            type: 'array',
            items: { type: 'string', pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,128}$' },
            default: ['openid', 'profile', 'email', 'offline_access'],
          },
          grantTypes: {
            type: 'array',
            items: { enum: ['authorization_code', 'refresh_token', 'client_credentials'] },
            default: ['authorization_code', 'refresh_token'],
          },
          firstParty: { type: 'boolean', default: false },
          backchannelLogoutUri: uri,
          audience: { type: 'string', minLength: 1, maxLength: 2048 },
        },
      },
    },
  },
};
