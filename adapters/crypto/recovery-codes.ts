import { createHash, createHmac, randomInt, timingSafeEqual } from 'node:crypto';

const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
/** Prefix of a keyed hash in `TotpEnrolled.recoveryCodeHashes`; a bare 64-hex entry is the legacy SHA-256. */
const HMAC_PREFIX = 'hmac-sha256:';

export function generateRecoveryCodes(n = 10): string[] {
  const codes: string[] = [];
  for (let i = 0; i < n; i++) {
    let c = '';
    for (let j = 0; j < 10; j++) c += RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)];
    codes.push(`${c.slice(0, 5)}-${c.slice(5)}`);
  }
  return codes;
}

const normalize = (code: string): string =>
  code
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');

export function looksLikeRecoveryCode(code: string): boolean {
  return normalize(code).length === 10;
}

/**
 * The hash recovery codes were stored as before keyed hashing: bare SHA-256. A code has ~50 bits,
 * so whoever reads the log (a SIEM export, a stolen backup) could search them all; still accepted
 * when verifying, so codes handed out earlier keep working until used or re-enrolled.
 */
export function legacyRecoveryCodeHash(code: string): string {
  return createHash('sha256')
    .update(`recovery.v1.${normalize(code)}`)
    .digest('hex');
}

/**
 * Recovery codes as HMAC-SHA256 under a key derived from the master key (`keys.derive('recovery-code')`):
 * the log alone gives nothing to search offline. Entries written before carry no prefix and are
 * checked as legacy SHA-256, so no event is rewritten and no user has to re-enroll.
 */
export class RecoveryCodes {
  constructor(private readonly key: Buffer) {
    if (key.length < 32) throw new Error('recovery code key must be at least 32 bytes');
  }

  hash(code: string): string {
    return (
      HMAC_PREFIX +
      createHmac('sha256', this.key)
        .update(`recovery.v2.${normalize(code)}`)
        .digest('hex')
    );
  }

  /** Index of the unused entry that matches, or -1. Every entry is compared, each in constant time. */
  find(code: string, hashes: readonly (string | null)[]): number {
    const keyed = Buffer.from(this.hash(code).slice(HMAC_PREFIX.length), 'hex');
    const legacy = Buffer.from(legacyRecoveryCodeHash(code), 'hex');
    let found = -1;
    hashes.forEach((x, i) => {
      if (!x) return;
      const isKeyed = x.startsWith(HMAC_PREFIX);
      const hex = isKeyed ? x.slice(HMAC_PREFIX.length) : x;
      if (!/^[0-9a-f]{64}$/.test(hex)) return;
      if (timingSafeEqual(isKeyed ? keyed : legacy, Buffer.from(hex, 'hex')) && found === -1) found = i;
    });
    return found;
  }
}
