/**
 * Signed handoff verifier for downstream sites. Dependency-free (node:crypto only): copy this one
 * file into your site. The broker signs with the same encoding (it imports `canonicalV2` and
 * `legacyV1Signature` from here), so what you copy is what the broker runs.
 *
 * v2 (default): the redirect carries these query parameters
 *   handoff=v2 kid aud iat exp nonce bnonce sub fields=<comma list> <each listed field> sig
 * and `sig` = base64url(HMAC-SHA256(key[kid], canonicalV2(params))). The canonical form names
 * every value and gives its byte length, so no value can be moved into another field or split
 * across two without breaking the signature.
 *
 * v1 (legacy, seed 003): `signature` = hex(HMAC-SHA1(key, sub + field values in the configured order
 * + the unix time floored to 5 minutes)). It has no audience, no expiry beyond the 5-minute bucket,
 * no nonce (replayable inside the window), SHA-1, and plain concatenation ("ab"+"c" = "a"+"bc").
 * Only sites that cannot change use it; a v2 site never accepts it (pass no `legacyV1` option).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type HandoffErrorCode =
  | 'malformed'
  | 'unsupported_version'
  | 'unknown_kid'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_audience'
  | 'nonce_mismatch'
  | 'replayed';

export class HandoffVerificationError extends Error {
  override readonly name = 'HandoffVerificationError';
  constructor(
    readonly code: HandoffErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type HandoffParams = URLSearchParams | Record<string, string | string[] | undefined>;
export type HandoffKeys = { kid: string; secret: string }[] | Record<string, string>;

export interface VerifyOptions {
  /** Current time (Date or ms since epoch). */
  now: Date | number;
  /** Your site id: the signed audience must equal it. */
  expectedSite: string;
  /**
   * The nonce you generated when you sent the browser to the broker (kept in the browser's session
   * on your side). Required for v2: pass what the browser's session holds, even when that is
   * nothing; a v2 handoff without a matching pending nonce is refused (`nonce_mismatch`).
   */
  expectedNonce?: string;
  /**
   * Records the broker nonce and says whether it was seen before (return true to refuse a replay).
   * Keep entries until `expiresAt` (ms). Required for v2.
   */
  seenNonce?: (brokerNonce: string, expiresAt: number) => boolean | Promise<boolean>;
  /** Allowed clock difference in seconds (default 30). */
  clockSkewSeconds?: number;
  /** Legacy v1 only: opt in with the field order configured for your site on the broker. */
  legacyV1?: { fields: string[] };
}

export interface VerifiedHandoff {
  version: 'v1' | 'v2';
  /** The broker's user id. */
  sub: string;
  /** The user fields your site is configured for (email, name, roles, tenant...). */
  fields: Record<string, string>;
  kid?: string;
  iat?: number;
  exp?: number;
  brokerNonce?: string;
}

export const V2_REQUIRED = ['handoff', 'kid', 'aud', 'iat', 'exp', 'nonce', 'bnonce', 'sub', 'fields'] as const;
export const RESERVED_PARAMS = new Set<string>([...V2_REQUIRED, 'sig', 'signature']);
const FIELD_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const MAX_VALUE = 2048;
const MAX_FIELDS = 16;
export const V1_BUCKET_SECONDS = 300;

/** `v2\n` then `name:byteLength:value\n` for each signed parameter, in a fixed order. */
export function canonicalV2(values: Record<string, string>, fieldNames: string[]): string {
  let out = 'v2\n';
  for (const k of [...V2_REQUIRED, ...fieldNames]) {
    const v = values[k] ?? '';
    out += `${k}:${Buffer.byteLength(v, 'utf8')}:${v}\n`;
  }
  return out;
}

export function signV2(secret: string, values: Record<string, string>, fieldNames: string[]): string {
  return createHmac('sha256', secret).update(canonicalV2(values, fieldNames), 'utf8').digest('base64url');
}

/** The seed's scheme, exactly: HMAC-SHA1 keyed by the pre-shared key over the data then the 5-minute time bucket. */
export function legacyV1Signature(secret: string, dataInOrder: string[], unixSeconds: number): string {
  const bucket = Math.floor(unixSeconds / V1_BUCKET_SECONDS) * V1_BUCKET_SECONDS;
  return createHmac('sha1', secret)
    .update(dataInOrder.join('') + String(bucket), 'utf8')
    .digest('hex');
}

function single(params: HandoffParams, name: string): string | undefined {
  const all = params instanceof URLSearchParams ? params.getAll(name) : ([] as string[]).concat(params[name] ?? []);
  // A repeated parameter is how "append &email=evil and hope the parser takes the last one" starts.
  if (all.length > 1) throw new HandoffVerificationError('malformed', `parameter ${name} appears more than once`);
  const v = all[0];
  if (v !== undefined && (typeof v !== 'string' || v.length > MAX_VALUE))
    throw new HandoffVerificationError('malformed', `parameter ${name} is too long`);
  return v;
}

function keyList(keys: HandoffKeys): { kid: string; secret: string }[] {
  return Array.isArray(keys) ? keys : Object.entries(keys).map(([kid, secret]) => ({ kid, secret }));
}

function sameBytes(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  // Length is not secret (fixed per algorithm); the content comparison is constant-time.
  return x.length === y.length && timingSafeEqual(x, y);
}

const INT = /^\d{1,12}$/;

export async function verifyHandoff(params: HandoffParams, keys: HandoffKeys, options: VerifyOptions): Promise<VerifiedHandoff> {
  const nowSec = Math.floor((typeof options.now === 'number' ? options.now : options.now.getTime()) / 1000);
  const skew = options.clockSkewSeconds ?? 30;
  const version = single(params, 'handoff');
  if (version === undefined) {
    if (options.legacyV1 && single(params, 'signature') !== undefined) return verifyV1(params, keys, options.legacyV1.fields, nowSec);
    throw new HandoffVerificationError(
      'unsupported_version',
      'not a v2 handoff (a v1 signature is refused unless this site opted into legacy v1)',
    );
  }
  if (version !== 'v2') throw new HandoffVerificationError('unsupported_version', `handoff version ${version} is not supported`);

  const values: Record<string, string> = {};
  for (const k of V2_REQUIRED) {
    const v = single(params, k);
    if (v === undefined) throw new HandoffVerificationError('malformed', `parameter ${k} is missing`);
    values[k] = v;
  }
  const sig = single(params, 'sig');
  if (!sig || !/^[A-Za-z0-9_-]{43}$/.test(sig)) throw new HandoffVerificationError('malformed', 'parameter sig is missing or malformed');
  const fieldNames = values.fields === '' ? [] : values.fields.split(',');
  if (
    fieldNames.length > MAX_FIELDS ||
    new Set(fieldNames).size !== fieldNames.length ||
    fieldNames.some((f) => !FIELD_NAME.test(f) || RESERVED_PARAMS.has(f))
  ) {
    throw new HandoffVerificationError('malformed', 'parameter fields is malformed');
  }
  for (const f of fieldNames) values[f] = single(params, f) ?? '';

  const key = keyList(keys).find((k) => k.kid === values.kid);
  if (!key) throw new HandoffVerificationError('unknown_kid', 'unknown key id');
  // Signature first: nothing else in the parameters is trusted before it holds.
  if (!sameBytes(signV2(key.secret, values, fieldNames), sig))
    throw new HandoffVerificationError('bad_signature', 'signature does not match');

  if (!sameBytes(values.aud, options.expectedSite))
    throw new HandoffVerificationError('wrong_audience', 'handoff was issued for another site');
  if (!INT.test(values.iat) || !INT.test(values.exp)) throw new HandoffVerificationError('malformed', 'iat/exp are not integers');
  const iat = Number(values.iat);
  const exp = Number(values.exp);
  if (iat > nowSec + skew) throw new HandoffVerificationError('not_yet_valid', 'handoff is issued in the future');
  if (exp + skew < nowSec) throw new HandoffVerificationError('expired', 'handoff has expired');
  // The nonce binds the answer to a login this browser started. A missing expected nonce (no
  // cookie: the browser never started a login here) is a refusal, not a skipped check: otherwise a
  // signed handoff planted in a victim's browser would log them in as someone else (login CSRF).
  if (typeof options.expectedNonce !== 'string' || !options.expectedNonce) {
    throw new HandoffVerificationError('nonce_mismatch', 'no login attempt is pending in this browser');
  }
  if (!sameBytes(values.nonce, options.expectedNonce)) {
    throw new HandoffVerificationError('nonce_mismatch', 'handoff answers another login attempt');
  }
  if (!options.seenNonce) throw new HandoffVerificationError('malformed', 'seenNonce is required to refuse replays');
  if (await options.seenNonce(values.bnonce, (exp + skew) * 1000))
    throw new HandoffVerificationError('replayed', 'handoff was already used');

  const fields: Record<string, string> = {};
  for (const f of fieldNames) fields[f] = values[f];
  return { version: 'v2', sub: values.sub, fields, kid: values.kid, iat, exp, brokerNonce: values.bnonce };
}

function verifyV1(params: HandoffParams, keys: HandoffKeys, fieldOrder: string[], nowSec: number): VerifiedHandoff {
  const sig = single(params, 'signature')!;
  if (!/^[0-9a-f]{40}$/.test(sig)) throw new HandoffVerificationError('malformed', 'parameter signature is malformed');
  const sub = single(params, 'sub');
  if (!sub) throw new HandoffVerificationError('malformed', 'parameter sub is missing');
  const fields: Record<string, string> = {};
  for (const f of fieldOrder) fields[f] = single(params, f) ?? '';
  const data = [sub, ...fieldOrder.map((f) => fields[f])];
  // The current bucket, or the previous one when the redirect crossed a 5-minute boundary.
  for (const t of [nowSec, nowSec - V1_BUCKET_SECONDS]) {
    for (const k of keyList(keys)) {
      if (sameBytes(legacyV1Signature(k.secret, data, t), sig)) return { version: 'v1', sub, fields, kid: k.kid };
    }
  }
  throw new HandoffVerificationError('bad_signature', 'signature does not match (or is older than the previous 5-minute window)');
}
