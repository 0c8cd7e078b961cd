import { EncryptJWT, jwtDecrypt, errors as joseErrors } from 'jose';

/** What the one-time URL carries, encrypted to the broker itself (nobody else can read or forge it). */
export interface InboundClaims {
  srv: string;
  sub: string;
  email: string | null;
  name: string | null;
  /** A login request token to resume, when the login started on the broker. */
  lr?: string;
  /** A validated return target, when the customer server started it. */
  rt?: string;
  jti: string;
  exp: number;
}

export class InboundTokenError extends Error {
  constructor(
    readonly reason: 'expired' | 'wrong_audience' | 'malformed',
    message: string,
  ) {
    super(message);
  }
}

const audience = (serverId: string): string => `handoff-enter:${serverId}`;

/** JWE `dir` + A256GCM under a key derived for this purpose only (`keys.derive('handoff-inbound')`). */
export class InboundTokens {
  constructor(
    private readonly key: Uint8Array,
    private readonly issuer: string,
  ) {}

  async issue(c: Omit<InboundClaims, 'exp'>, now: Date, ttlSeconds: number): Promise<{ token: string; exp: number }> {
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + ttlSeconds;
    const { jti, ...claims } = c;
    const token = await new EncryptJWT(claims)
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuer(this.issuer)
      .setAudience(audience(c.srv))
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(jti)
      .encrypt(this.key);
    return { token, exp };
  }

  async open(token: string, serverId: string, now: Date): Promise<InboundClaims> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtDecrypt(token, this.key, {
        issuer: this.issuer,
        audience: audience(serverId),
        currentDate: now,
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        requiredClaims: ['jti', 'exp', 'sub'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired)
        throw new InboundTokenError('expired', 'This sign-in link has expired. Start again from your organisation’s site.');
      if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'aud')
        throw new InboundTokenError('wrong_audience', 'This sign-in link was issued for another server.');
      throw new InboundTokenError('malformed', 'This sign-in link is not valid.');
    }
    if (typeof payload.jti !== 'string' || !/^[A-Za-z0-9_-]{16,64}$/.test(payload.jti) || typeof payload.srv !== 'string') {
      throw new InboundTokenError('malformed', 'This sign-in link is not valid.');
    }
    return payload as unknown as InboundClaims;
  }
}
