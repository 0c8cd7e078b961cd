import { sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { DomainError } from '../../core/index.js';

/**
 * Compact JWS (RFC 7515) signing and verification with node:crypto on KeyObjects imported once.
 * PERFORMANCE-NOTES: jose's WebCrypto path costs ~3x node:crypto's on the hot path, so tokens are
 * signed and verified here; the output is the same compact JWS jose produces (tests check both
 * directions, and byte equality for the deterministic RS256).
 */
export type JwsAlg = 'ES256' | 'RS256';
export const SUPPORTED_ALGS: readonly JwsAlg[] = ['ES256', 'RS256'];

export type JwsFailure =
  | 'malformed'
  | 'alg_not_allowed'
  | 'unknown_kid'
  | 'bad_signature'
  | 'wrong_typ'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_audience'
  | 'wrong_issuer';

/** Why a token was refused. `reason` is precise for logs and tests; messages never echo the token. */
export class JwsInvalid extends DomainError {
  constructor(
    readonly reason: JwsFailure,
    message: string,
  ) {
    super(reason === 'expired' ? 'expired' : reason === 'malformed' ? 'invalid_input' : 'bad_signature', message);
  }
}

export interface JwsHeader {
  alg: string;
  typ?: string;
  kid?: string;
  [k: string]: unknown;
}

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64url');

function keyParams(alg: JwsAlg): { algorithm: string; dsaEncoding?: 'ieee-p1363' } {
  // RFC 7518 §3.4: ECDSA signatures in JWS are R || S (IEEE P1363), not DER.
  return alg === 'ES256' ? { algorithm: 'sha256', dsaEncoding: 'ieee-p1363' } : { algorithm: 'sha256' };
}

/** Signs `payload` with header `{ alg, typ, kid }` (that order, as jose writes it). */
export function signCompact(payload: Record<string, unknown>, header: { alg: JwsAlg; typ?: string; kid: string }, key: KeyObject): string {
  const h: JwsHeader = { alg: header.alg };
  if (header.typ) h.typ = header.typ;
  h.kid = header.kid;
  const input = `${b64(JSON.stringify(h))}.${b64(JSON.stringify(payload))}`;
  const { algorithm, dsaEncoding } = keyParams(header.alg);
  const sig = nodeSign(algorithm, Buffer.from(input), dsaEncoding ? { key, dsaEncoding } : key);
  return `${input}.${sig.toString('base64url')}`;
}

export interface DecodedJws {
  header: JwsHeader;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** Parses without verifying. Throws JwsInvalid('malformed'). */
export function decodeCompact(jws: string, maxLength = 16 * 1024): DecodedJws {
  if (typeof jws !== 'string' || jws.length === 0 || jws.length > maxLength) throw new JwsInvalid('malformed', 'token is malformed');
  const parts = jws.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p)) || !parts[0] || !parts[1])
    throw new JwsInvalid('malformed', 'token is malformed');
  let header: JwsHeader;
  let payload: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as JwsHeader;
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new JwsInvalid('malformed', 'token is malformed');
  }
  if (!header || typeof header !== 'object' || typeof header.alg !== 'string')
    throw new JwsInvalid('malformed', 'token header is malformed');
  if (!payload || typeof payload !== 'object' || Array.isArray(payload))
    throw new JwsInvalid('malformed', 'token payload is not a JSON object');
  // RFC 7515 §4.1.11: a critical extension we do not understand makes the token invalid.
  if (header.crit !== undefined) throw new JwsInvalid('malformed', 'token uses unsupported critical header parameters');
  return { header, payload, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2], 'base64url') };
}

/** Verifies a decoded JWS against one public key whose algorithm is fixed by our key, never by the token. */
export function verifyDecoded(d: DecodedJws, alg: JwsAlg, key: KeyObject): boolean {
  // RFC 8725 §3.1: the algorithm comes from the key, so `none` and HS256-keyed-with-the-public-key are refused.
  if (d.header.alg !== alg) return false;
  if (alg === 'ES256' && d.signature.length !== 64) return false;
  const { algorithm, dsaEncoding } = keyParams(alg);
  return nodeVerify(algorithm, Buffer.from(d.signingInput), dsaEncoding ? { key, dsaEncoding } : key, d.signature);
}

export interface ClaimChecks {
  /** Expected `typ` header (RFC 8725 §3.11: explicit typing stops token confusion). */
  typ?: string;
  audience?: string | string[];
  issuer?: string;
  /** Unix seconds. */
  now: number;
  clockToleranceSeconds?: number;
}

/** exp / nbf / iat / aud / iss checks (RFC 7519 §4.1). */
export function checkClaims(d: DecodedJws, c: ClaimChecks): void {
  const tol = c.clockToleranceSeconds ?? 0;
  if (c.typ !== undefined && normalizeTyp(d.header.typ) !== normalizeTyp(c.typ))
    throw new JwsInvalid('wrong_typ', 'token type is not accepted here');
  const p = d.payload;
  if (p.exp !== undefined && (typeof p.exp !== 'number' || p.exp <= c.now - tol)) throw new JwsInvalid('expired', 'token has expired');
  if (p.nbf !== undefined && (typeof p.nbf !== 'number' || p.nbf > c.now + tol))
    throw new JwsInvalid('not_yet_valid', 'token is not yet valid');
  if (p.iat !== undefined && (typeof p.iat !== 'number' || p.iat > c.now + tol + 60))
    throw new JwsInvalid('not_yet_valid', 'token was issued in the future');
  if (c.issuer !== undefined && p.iss !== c.issuer) throw new JwsInvalid('wrong_issuer', 'token issuer is not accepted');
  if (c.audience !== undefined) {
    const want = Array.isArray(c.audience) ? c.audience : [c.audience];
    const have = Array.isArray(p.aud) ? p.aud : typeof p.aud === 'string' ? [p.aud] : [];
    if (!have.some((a) => want.includes(a as string))) throw new JwsInvalid('wrong_audience', 'token audience is not accepted');
  }
}

// RFC 7515 §4.1.9: `application/` may be omitted from typ; compare case-insensitively.
function normalizeTyp(t: unknown): string {
  if (typeof t !== 'string') return '';
  const l = t.toLowerCase();
  return l.startsWith('application/') ? l.slice(12) : l;
}
