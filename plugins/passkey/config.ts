export interface PasskeyConfig {
  /** Relying party ID (default: the base URL's host name; may be a parent domain of it). */
  rpId?: string;
  /** Shown by the browser's passkey prompt. */
  rpName?: string;
  /** A session older than this must log in again to add or remove a passkey. */
  freshLoginSeconds: number;
  /** Who must log in with a passkey: nobody, admins, or everyone (a login without one is sent to enrol). */
  require: 'none' | 'admins' | 'everyone';
  /** A password login of a user who has a passkey asks for it as the second factor (unless TOTP already made it two). */
  secondFactor: boolean;
  /** Per-IP throttle on the pre-session POST routes (@fastify/rate-limit, in memory per node). */
  rateLimit: { max: number; windowSeconds: number };
}

export const configSchema = {
  type: 'object',
  properties: {
    rpId: { type: 'string', minLength: 1 },
    rpName: { type: 'string', minLength: 1, maxLength: 64 },
    freshLoginSeconds: { type: 'integer', minimum: 30, default: 300 },
    require: { enum: ['none', 'admins', 'everyone'], default: 'none' },
    secondFactor: { type: 'boolean', default: true },
    rateLimit: {
      type: 'object',
      properties: {
        max: { type: 'integer', minimum: 1, default: 60 },
        windowSeconds: { type: 'integer', minimum: 1, default: 60 },
      },
      additionalProperties: false,
      default: {},
    },
  },
  additionalProperties: false,
};
