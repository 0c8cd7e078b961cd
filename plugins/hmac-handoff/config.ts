import type { JsonSchema, ProvisioningSettings } from '../../plugin/index.js';

/** A customer auth server that hands its users in (seed 000). Exactly one of `secret` / `publicKey`. */
export interface InboundServerConfig {
  id: string;
  name: string;
  /** Shared secret: the server signs `timestamp + "." + body` with HMAC-SHA256. */
  secret?: string;
  /** Public key (JWK object or PEM): the server sends a JWT it signs (see README). */
  publicKey?: string | Record<string, unknown>;
  /** JWS algorithm of that JWT (default RS256 for RSA keys, ES256 for EC). */
  jwtAlg?: string;
  provisioning?: ProvisioningSettings;
  /** Exact URLs (or broker paths starting with `/`) a handoff may continue to. */
  returnTargets?: string[];
  /** Where the broker sends a browser that chose this server to log in (`?lr=` appended). */
  loginUrl?: string;
}

export interface HandoffPluginConfig {
  /** Lifetime of a v2 outbound signature (sites may override with `handoff.ttlSeconds`). */
  ttlSeconds: number;
  /** Lifetime of an inbound one-time URL. */
  inboundTtlSeconds: number;
  /** Accepted clock difference for a customer server's timestamp or JWT. */
  maxSkewSeconds: number;
  servers: InboundServerConfig[];
  /**
   * Per-IP throttles (@fastify/rate-limit, in memory per node; each route counts on its own).
   * `browser`: GET /sso/<siteId>, /handoff/<serverId>/start and /handoff/<serverId>/enter.
   * `server`: POST /handoff/<serverId> (a customer auth server: all its users come from its address).
   */
  rateLimit: { browser: RateLimitConfig; server: RateLimitConfig };
}

export interface RateLimitConfig {
  max: number;
  windowSeconds: number;
}

const rateLimitSchema = (max: number): JsonSchema => ({
  type: 'object',
  additionalProperties: false,
  properties: {
    max: { type: 'integer', minimum: 1, default: max },
    windowSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 60 },
  },
  default: {},
});

const ID = '^[a-z0-9][a-z0-9_-]{0,62}$';

export const configSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ttlSeconds: { type: 'integer', minimum: 5, maximum: 600, default: 60 },
    inboundTtlSeconds: { type: 'integer', minimum: 5, maximum: 600, default: 60 },
    maxSkewSeconds: { type: 'integer', minimum: 0, maximum: 900, default: 120 },
    rateLimit: {
      type: 'object',
      additionalProperties: false,
      properties: { browser: rateLimitSchema(120), server: rateLimitSchema(600) },
      default: {},
    },
    servers: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'name'],
        oneOf: [{ required: ['secret'] }, { required: ['publicKey'] }],
        properties: {
          id: { type: 'string', pattern: ID },
          name: { type: 'string', minLength: 1, maxLength: 200 },
          secret: { type: 'string', minLength: 32 },
          publicKey: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'object' }] },
          jwtAlg: { type: 'string', enum: ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'] },
          provisioning: {
            type: 'object',
            required: ['policy'],
            properties: { policy: { type: 'string' }, linkByEmail: { type: 'boolean' }, condition: { type: 'object' } },
          },
          returnTargets: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 2048 }, default: [] },
          loginUrl: { type: 'string', pattern: '^https?://' },
        },
      },
    },
  },
};
