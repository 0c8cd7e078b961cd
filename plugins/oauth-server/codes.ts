import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Authorization codes are sealed, self-contained values (AES-256-GCM under a key derived from the
 * master key): any node can redeem one and nothing is written when it is issued. Single use is
 * enforced at redemption by the grant stream appended `no_stream` (the grant id is the code's jti).
 */
export interface CodePayload {
  /** jti = the grant id the redemption creates. */
  jti: string;
  clientId: string;
  redirectUri: string;
  /** Whether redirect_uri was in the authorization request (RFC 6749 §4.1.3: then it must be repeated). */
  redirectUriGiven: boolean;
  scope: string;
  nonce: string | null;
  codeChallenge: string | null;
  userId: string;
  sessionId: string;
  authTime: number;
  /** Unix seconds. */
  exp: number;
}

const AAD = Buffer.from('oauth-code.v1');

export class CodeCodec {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('code key must be 32 bytes');
  }

  seal(p: CodePayload): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(AAD);
    const ct = Buffer.concat([c.update(JSON.stringify(p), 'utf8'), c.final()]);
    return Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64url');
  }

  /** null when forged, tampered or malformed (the caller answers invalid_grant). */
  open(code: string): CodePayload | null {
    if (typeof code !== 'string' || code.length < 40 || code.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(code)) return null;
    const b = Buffer.from(code, 'base64url');
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, b.subarray(0, 12));
      d.setAAD(AAD);
      d.setAuthTag(b.subarray(b.length - 16));
      const pt = Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]);
      return JSON.parse(pt.toString('utf8')) as CodePayload;
    } catch {
      return null;
    }
  }
}
