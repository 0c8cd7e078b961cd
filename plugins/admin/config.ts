import { argon2ConfigSchema, type Argon2Params } from '../../adapters/crypto/password-hasher.js';

export interface AdminConfig {
  /** Hashes the first admin's password (the password IdP verifies it: keep both alike). */
  argon2: Argon2Params;
  totpIssuer: string;
  setup: {
    /**
     * Print the one-time setup URL to the operator's console (stderr). It never goes to the log,
     * which only says that setup is pending.
     */
    printUrl: boolean;
    /** Old name of `printUrl` (the URL used to go to stdout); `false` still turns printing off. */
    printToStdout?: boolean;
    /** How long a setup URL is valid. */
    ttlSeconds: number;
  };
}

export const configSchema = {
  type: 'object',
  properties: {
    argon2: argon2ConfigSchema,
    totpIssuer: { type: 'string', minLength: 1, maxLength: 64, default: 'Identity broker' },
    setup: {
      type: 'object',
      properties: {
        printUrl: { type: 'boolean', default: true },
        printToStdout: { type: 'boolean' },
        ttlSeconds: { type: 'integer', minimum: 60, default: 86400 },
      },
      additionalProperties: false,
      default: {},
    },
  },
  additionalProperties: false,
} as const;
