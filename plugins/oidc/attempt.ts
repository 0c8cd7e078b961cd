import { EncryptJWT, jwtDecrypt } from 'jose';
import { OidcRejected } from './errors.js';

/** Everything one login attempt must remember until the callback (OIDC Core §3.1.2.1, RFC 7636). */
export interface Attempt {
  idp: string;
  state: string;
  nonce: string;
  verifier: string;
  lr: string | null;
}

/**
 * The attempt travels in a cookie encrypted under a key derived from the master key
 * (dir + A256GCM): any broker node can finish the callback, nothing is stored per attempt, and
 * the PKCE verifier and nonce are unreadable to the browser.
 */
export class AttemptCodec {
  constructor(
    private readonly key: Uint8Array,
    private readonly ttlSeconds: number,
  ) {}

  async seal(a: Attempt, now: Date): Promise<string> {
    const iat = Math.floor(now.getTime() / 1000);
    return new EncryptJWT({ ...a })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.ttlSeconds)
      .encrypt(this.key);
  }

  async open(token: string | undefined, now: Date): Promise<Attempt> {
    if (!token) throw new OidcRejected('oidc_no_attempt', 'This login was not started here, or took too long; start again.');
    try {
      const { payload } = await jwtDecrypt(token, this.key, {
        currentDate: now,
        contentEncryptionAlgorithms: ['A256GCM'],
        keyManagementAlgorithms: ['dir'],
      });
      return payload as unknown as Attempt;
    } catch {
      throw new OidcRejected('oidc_no_attempt', 'This login was not started here, or took too long; start again.');
    }
  }
}
