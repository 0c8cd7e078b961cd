import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { importJWK, importSPKI, jwtVerify, errors as joseErrors, type CryptoKey, type JWK, type KeyObject } from 'jose';
import type { InboundServerConfig } from './config.js';

export class InboundAuthError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const TIMESTAMP = /^\d{1,12}$/;
const HEX_SHA256 = /^[0-9a-f]{64}$/;

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Authenticates a customer auth server's POST. Two ways, per server:
 * - shared secret: `X-Handoff-Timestamp: <unix s>` and `X-Handoff-Signature: <hex HMAC-SHA256(secret, timestamp + "." + raw body)>`;
 *   the timestamp bounds how long a captured request stays usable;
 * - public key: `Authorization: Bearer <JWT>` signed by the server with iss = server id, aud = the
 *   endpoint URL, short exp, and `body_sha256` = base64url(SHA-256(raw body)) binding the body.
 */
export class InboundAuthenticator {
  private key: CryptoKey | KeyObject | Uint8Array | null = null;

  constructor(
    private readonly server: InboundServerConfig,
    private readonly audience: string,
    private readonly maxSkewSeconds: number,
  ) {}

  /** Imports the public key once (a hot path should not re-parse PEM per request). */
  async init(): Promise<void> {
    const pk = this.server.publicKey;
    if (!pk) return;
    const alg =
      this.server.jwtAlg ??
      (typeof pk === 'object' && (pk as JWK).kty === 'EC'
        ? 'ES256'
        : typeof pk === 'object' && (pk as JWK).kty === 'OKP'
          ? 'EdDSA'
          : 'RS256');
    this.server.jwtAlg = alg;
    this.key = typeof pk === 'string' ? await importSPKI(pk, alg) : await importJWK(pk as JWK, alg);
  }

  /**
   * Returns a fingerprint of the authenticated request (a hash of its signature or JWT) so the
   * caller can make each signed request single-use: a captured POST replayed within the skew is refused.
   */
  async check(headers: Record<string, string | string[] | undefined>, rawBody: string, now: Date): Promise<string> {
    if (this.server.secret) this.checkHmac(headers, rawBody, now);
    else await this.checkJwt(headers, rawBody, now);
    const proof = this.server.secret ? String(headers['x-handoff-signature']) : String(headers.authorization);
    return createHash('sha256').update(proof).digest('base64url').slice(0, 32);
  }

  private checkHmac(headers: Record<string, string | string[] | undefined>, rawBody: string, now: Date): void {
    const ts = headers['x-handoff-timestamp'];
    const sig = headers['x-handoff-signature'];
    if (typeof ts !== 'string' || !TIMESTAMP.test(ts) || typeof sig !== 'string' || !HEX_SHA256.test(sig)) {
      throw new InboundAuthError('missing_signature', 'X-Handoff-Timestamp and X-Handoff-Signature (hex HMAC-SHA256) are required');
    }
    if (Math.abs(Math.floor(now.getTime() / 1000) - Number(ts)) > this.maxSkewSeconds) {
      throw new InboundAuthError('stale_timestamp', 'X-Handoff-Timestamp is outside the accepted clock skew');
    }
    const expected = createHmac('sha256', this.server.secret!).update(`${ts}.`).update(rawBody, 'utf8').digest();
    if (!sameBytes(expected, Buffer.from(sig, 'hex'))) throw new InboundAuthError('bad_signature', 'the request signature does not match');
  }

  private async checkJwt(headers: Record<string, string | string[] | undefined>, rawBody: string, now: Date): Promise<void> {
    const auth = headers.authorization;
    if (typeof auth !== 'string' || !auth.startsWith('Bearer ') || auth.length > 8192)
      throw new InboundAuthError('missing_signature', 'Authorization: Bearer <JWT> is required');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(auth.slice(7), this.key!, {
        algorithms: [this.server.jwtAlg!],
        issuer: this.server.id,
        audience: this.audience,
        currentDate: now,
        clockTolerance: this.maxSkewSeconds,
        maxTokenAge: this.maxSkewSeconds + 300,
        requiredClaims: ['iat', 'exp', 'body_sha256'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new InboundAuthError('expired', 'the JWT has expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed)
        throw new InboundAuthError(err.claim === 'aud' ? 'wrong_audience' : 'bad_claims', `the JWT claim ${err.claim} is not acceptable`);
      throw new InboundAuthError('bad_signature', 'the JWT is malformed or its signature does not verify');
    }
    const digest = createHash('sha256').update(rawBody, 'utf8').digest();
    const claimed = typeof payload.body_sha256 === 'string' ? Buffer.from(payload.body_sha256, 'base64url') : Buffer.alloc(0);
    if (!sameBytes(digest, claimed)) throw new InboundAuthError('body_mismatch', 'body_sha256 does not match the request body');
  }
}
