export interface PasskeyConfig {
  /** Relying party ID (default: the base URL's host name; may be a parent domain of it). */
  rpId?: string;
  /** Shown by the browser's passkey prompt. */
  rpName?: string;
  /** A session older than this must log in again to add or remove a passkey. */
  freshLoginSeconds: number;
  /** Who must log in with a passkey: nobody, admins, or everyone (they are sent to enrol). */
  require: 'none' | 'admins' | 'everyone';
}

export const configSchema = {
  type: 'object',
  properties: {
    rpId: { type: 'string', minLength: 1 },
    rpName: { type: 'string', minLength: 1, maxLength: 64 },
    freshLoginSeconds: { type: 'integer', minimum: 30, default: 300 },
    require: { enum: ['none', 'admins', 'everyone'], default: 'none' },
  },
  additionalProperties: false,
};
