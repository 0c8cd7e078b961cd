import { argon2ConfigSchema, type Argon2Params } from '../../adapters/crypto/password-hasher.js';

export interface PasswordLoginConfig {
  argon2: Argon2Params;
  /** Strangers may create an account with a password (off by default). */
  selfRegistration: boolean;
  /** Shown in authenticator apps. */
  totpIssuer: string;
  /** Per-account lockout, driven by `LoginFailed` events (so every node agrees). */
  lockout: { maxFailures: number; windowSeconds: number; lockSeconds: number };
  /** Per-IP throttle on the POST routes (@fastify/rate-limit, in memory per node). */
  rateLimit: { max: number; windowSeconds: number };
}

export const configSchema = {
  type: 'object',
  properties: {
    argon2: argon2ConfigSchema,
    selfRegistration: { type: 'boolean', default: false },
    totpIssuer: { type: 'string', minLength: 1, maxLength: 64, default: 'Identity broker' },
    lockout: {
      type: 'object',
      properties: {
        maxFailures: { type: 'integer', minimum: 1, maximum: 1000, default: 5 },
        windowSeconds: { type: 'integer', minimum: 1, default: 900 },
        lockSeconds: { type: 'integer', minimum: 1, default: 900 },
      },
      additionalProperties: false,
      default: {},
    },
    rateLimit: {
      type: 'object',
      properties: {
        max: { type: 'integer', minimum: 1, default: 30 },
        windowSeconds: { type: 'integer', minimum: 1, default: 60 },
      },
      additionalProperties: false,
      default: {},
    },
  },
  additionalProperties: false,
} as const;
