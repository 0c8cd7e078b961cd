import { randomBytes } from 'node:crypto';
import { Algorithm, hash, verify } from '@node-rs/argon2';

/**
 * Argon2id password hashing (RFC 9106). Defaults follow OWASP's password storage cheat sheet
 * (m = 19 MiB, t = 2, p = 1); the parameters are config so tests run cheap ones and operators can
 * raise them. Shared by the password IdP and the first-run admin setup (neither imports the other).
 */
export interface Argon2Params {
  /** KiB. */
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export const DEFAULT_ARGON2: Argon2Params = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

export const argon2ConfigSchema = {
  type: 'object',
  properties: {
    memoryCost: { type: 'integer', minimum: 8, maximum: 4194304, default: DEFAULT_ARGON2.memoryCost },
    timeCost: { type: 'integer', minimum: 1, maximum: 100, default: DEFAULT_ARGON2.timeCost },
    parallelism: { type: 'integer', minimum: 1, maximum: 16, default: DEFAULT_ARGON2.parallelism },
  },
  additionalProperties: false,
  default: {},
} as const;

/** Longer inputs are refused before hashing: hashing megabytes is a denial of service, not a password. */
export const MAX_PASSWORD_LENGTH = 1024;
export const MIN_PASSWORD_LENGTH = 10;

export class PasswordHasher {
  private dummy: Promise<string> | null = null;

  constructor(readonly params: Argon2Params = DEFAULT_ARGON2) {}

  hash(password: string): Promise<string> {
    return hash(password, { algorithm: Algorithm.Argon2id, ...this.params });
  }

  /** False for a malformed hash too (a corrupted record must not crash a login). */
  async verify(passwordHash: string, password: string): Promise<boolean> {
    if (password.length > MAX_PASSWORD_LENGTH) return false;
    try {
      return await verify(passwordHash, password);
    } catch {
      return false;
    }
  }

  /**
   * Runs a verify against a hash of a random password at the current parameters: an unknown user
   * costs the same time as a wrong password, so timing does not tell whether an account exists.
   */
  async verifyDummy(password: string): Promise<false> {
    this.dummy ??= this.hash(randomBytes(18).toString('base64url'));
    await this.verify(await this.dummy, password.slice(0, MAX_PASSWORD_LENGTH));
    return false;
  }
}

/** Why a new password is refused, or null when acceptable (NIST SP 800-63B §5.1.1.2: length, not composition rules). */
export function passwordProblem(password: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `The password must have at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (password.length > MAX_PASSWORD_LENGTH) return `The password must have at most ${MAX_PASSWORD_LENGTH} characters.`;
  return null;
}
