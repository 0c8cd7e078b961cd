import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import {
  WrongExpectedRevision,
  declareSecretFields,
  defineEvent,
  type Clock,
  type EventStore,
  type Projection,
  type RecordedEvent,
} from '../../core/index.js';
import { decryptDir, encryptDir } from './key-cipher.js';
import { JwsInvalid, SUPPORTED_ALGS, checkClaims, decodeCompact, signCompact, verifyDecoded, type JwsAlg } from './jws.js';

declare module '../../core/events/catalog.js' {
  interface EventMap {
    /**
     * A new broker signing key (stream `signing-keys`). The private JWK is a compact JWE (dir,
     * A256GCM) under `keys.derive('signing-keys')`: never in clear. It becomes the current key at
     * once; the previous key retires then and stays published for the overlap period.
     */
    SigningKeyGenerated: { kid: string; alg: JwsAlg; publicJwk: Record<string, unknown>; privateJwe: string; createdAt: string };
  }
}
defineEvent('SigningKeyGenerated', 1);
// Encrypted, but still the private key: withheld from exports (core/events/secret-fields.ts).
declareSecretFields('SigningKeyGenerated', ['privateJwe']);

export const SIGNING_KEYS_STREAM = 'signing-keys';

export interface SigningKeySettings {
  /** Algorithm of newly generated keys (ES256 default; RS256 for relying parties that need it). */
  alg: JwsAlg;
  /** Age at which the current key is replaced. */
  rotateAfterSeconds: number;
  /** How long a replaced key stays in the JWKS (and verifies): longer than any token it signed lives. */
  overlapSeconds: number;
}

export const DEFAULT_SIGNING_SETTINGS: SigningKeySettings = { alg: 'ES256', rotateAfterSeconds: 30 * 86400, overlapSeconds: 2 * 86400 };

export interface SignOptions {
  /** JOSE `typ` header: `at+jwt` (RFC 9068), `JWT` (ID tokens), `secevent+jwt` (RFC 8417)... */
  typ: string;
  /** Sign with this key instead of the current one (it must still be published and have its private key). */
  kid?: string;
}

export interface VerifyOptions {
  typ?: string;
  audience?: string | string[];
  issuer?: string;
  clockToleranceSeconds?: number;
}

export interface Jwk {
  kty: string;
  kid: string;
  alg: JwsAlg;
  use: 'sig';
  [k: string]: unknown;
}

interface KeyEntry {
  kid: string;
  alg: JwsAlg;
  createdAt: number;
  retiredAt: number | null;
  publicJwk: Jwk;
  publicKey: KeyObject;
  /** null when the key could not be decrypted (master key changed): it still verifies, never signs. */
  privateKey: KeyObject | null;
}

/**
 * The broker's JWS key ring, a projection over the `signing-keys` stream so every node signs with
 * the same current key and publishes the same JWKS. Bound as TOKENS.SigningKeys.
 */
export class SigningKeys implements Projection {
  readonly name = 'signing-keys';
  // A handful of events in one stream: read from that stream at start (load), not from all of `$all`.
  readonly replay = 'live' as const;
  checkpoint = 0;
  private readonly byKid = new Map<string, KeyEntry>();
  private newest: KeyEntry | null = null;
  private revision = -1;
  private timer: NodeJS.Timeout | null = null;
  private jwksCache: { until: number; value: { keys: Jwk[] } } | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly cipherKey: Buffer,
    private readonly clock: Clock,
    readonly settings: SigningKeySettings = DEFAULT_SIGNING_SETTINGS,
    private readonly onWarn: (msg: string) => void = () => {},
  ) {
    if (!SUPPORTED_ALGS.includes(settings.alg)) throw new Error(`signing.alg: ${settings.alg} is not supported (ES256, RS256)`);
  }

  reset(): void {
    this.byKid.clear();
    this.newest = null;
    this.revision = -1;
    this.jwksCache = null;
  }

  apply(e: RecordedEvent): void {
    if (e.streamId !== SIGNING_KEYS_STREAM) return;
    this.revision = Math.max(this.revision, e.revision);
    if (e.type !== 'SigningKeyGenerated') return;
    const d = e.data as { kid: string; alg: JwsAlg; publicJwk: Record<string, unknown>; privateJwe: string; createdAt?: string };
    if (this.byKid.has(d.kid)) return; // applied already (right after our own append)
    let privateKey: KeyObject | null = null;
    try {
      privateKey = createPrivateKey({ key: JSON.parse(decryptDir(d.privateJwe, this.cipherKey)) as JsonWebKey, format: 'jwk' });
    } catch {
      this.onWarn(`signing key ${d.kid} cannot be decrypted with this master key; it will verify but not sign`);
    }
    const entry: KeyEntry = {
      kid: d.kid,
      alg: d.alg,
      createdAt: Date.parse(d.createdAt ?? e.metadata.recordedAt),
      retiredAt: null,
      publicJwk: { ...(d.publicJwk as Jwk), kid: d.kid, alg: d.alg, use: 'sig' },
      publicKey: createPublicKey({ key: d.publicJwk as JsonWebKey, format: 'jwk' }),
      privateKey,
    };
    if (this.newest) this.newest.retiredAt = entry.createdAt;
    this.byKid.set(d.kid, entry);
    this.newest = entry;
    this.jwksCache = null;
  }

  /** Reads the key ring from its stream (at start; later keys arrive through the projection). */
  async load(): Promise<void> {
    for (const e of await this.store.readStream(SIGNING_KEYS_STREAM)) this.apply(e);
  }

  /** Published keys (current or in their overlap) whose private half this master key cannot open. */
  undecryptable(): string[] {
    const now = this.clock.now().getTime();
    return [...this.byKid.values()].filter((k) => !k.privateKey && this.isPublished(k, now)).map((k) => k.kid);
  }

  /** Generates a key when there is none usable, when the current one is too old or of another alg. */
  async ensure(): Promise<void> {
    const cur = this.newest;
    const now = this.clock.now().getTime();
    if (cur && cur.privateKey && cur.alg === this.settings.alg && now - cur.createdAt < this.settings.rotateAfterSeconds * 1000) return;
    await this.rotate();
  }

  /** Makes a fresh key current; the previous one stays published for `overlapSeconds`. */
  async rotate(alg: JwsAlg = this.settings.alg): Promise<{ kid: string; alg: JwsAlg }> {
    const { privateKey } =
      alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
    const priv = privateKey.export({ format: 'jwk' }) as Record<string, string>;
    const publicJwk = alg === 'ES256' ? { kty: 'EC', crv: priv.crv, x: priv.x, y: priv.y } : { kty: 'RSA', n: priv.n, e: priv.e };
    const kid = thumbprint(publicJwk);
    const expected = this.revision === -1 ? ('no_stream' as const) : this.revision;
    try {
      const res = await this.store.append(
        SIGNING_KEYS_STREAM,
        [
          {
            type: 'SigningKeyGenerated',
            data: {
              kid,
              alg,
              publicJwk,
              privateJwe: encryptDir(JSON.stringify(priv), this.cipherKey, kid),
              createdAt: this.clock.now().toISOString(),
            },
            metadata: { actor: 'system' },
          },
        ],
        { expectedRevision: expected },
      );
      for (const e of res.events) this.apply(e);
    } catch (err) {
      if (!(err instanceof WrongExpectedRevision)) throw err;
      // Another node rotated at the same moment: adopt its key instead of adding a second one.
      for (const e of await this.store.readStream(SIGNING_KEYS_STREAM, { fromRevision: this.revision + 1 })) this.apply(e);
    }
    return this.current();
  }

  /** Checks hourly whether the current key is due for rotation (every node; the log settles races). */
  start(intervalMs = 3600_000): void {
    if (this.timer) return;
    this.timer = setInterval(
      () => void this.ensure().catch((e: unknown) => this.onWarn(`signing key rotation failed: ${String(e)}`)),
      intervalMs,
    );
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  current(): { kid: string; alg: JwsAlg } {
    const k = this.newest;
    if (!k || !k.privateKey) throw new Error('no signing key available (the broker is not ready)');
    return { kid: k.kid, alg: k.alg };
  }

  signSync(payload: Record<string, unknown>, opts: SignOptions): string {
    const k = opts.kid ? this.byKid.get(opts.kid) : this.newest;
    if (!k || !k.privateKey || (opts.kid && !this.isPublished(k, this.clock.now().getTime()))) {
      throw new Error(opts.kid ? `signing key ${opts.kid} is not available` : 'no signing key available (the broker is not ready)');
    }
    return signCompact(payload, { alg: k.alg, typ: opts.typ, kid: k.kid }, k.privateKey);
  }

  async sign(payload: Record<string, unknown>, opts: SignOptions): Promise<string> {
    return this.signSync(payload, opts);
  }

  /**
   * Verifies a token this broker signed: the kid must name a published key, the alg must be that
   * key's alg (so `none` and HS256-with-our-public-key fail), then typ, exp, nbf, aud, iss.
   * Throws JwsInvalid with a precise `reason`.
   */
  verifySync(jws: string, opts: VerifyOptions = {}): Record<string, unknown> {
    const d = decodeCompact(jws);
    if (!SUPPORTED_ALGS.includes(d.header.alg as JwsAlg))
      throw new JwsInvalid('alg_not_allowed', `alg ${String(d.header.alg).slice(0, 16)} is not accepted`);
    const now = this.clock.now().getTime();
    const k = typeof d.header.kid === 'string' ? this.byKid.get(d.header.kid) : undefined;
    if (!k || !this.isPublished(k, now)) throw new JwsInvalid('unknown_kid', 'token was not signed by a key of this broker');
    if (!verifyDecoded(d, k.alg, k.publicKey)) throw new JwsInvalid('bad_signature', 'token signature is invalid');
    checkClaims(d, { ...opts, now: Math.floor(now / 1000) });
    return d.payload;
  }

  async verify(jws: string, opts: VerifyOptions = {}): Promise<Record<string, unknown>> {
    return this.verifySync(jws, opts);
  }

  /** The public keys: the current one and each replaced one still inside its overlap. */
  jwksSync(): { keys: Jwk[] } {
    const now = this.clock.now().getTime();
    if (this.jwksCache && now < this.jwksCache.until) return this.jwksCache.value;
    const live = [...this.byKid.values()].filter((k) => this.isPublished(k, now));
    // Cached until the next retired key leaves the set, so an expired key is never served.
    const until = Math.min(
      now + 60_000,
      ...live.filter((k) => k.retiredAt !== null).map((k) => k.retiredAt! + this.settings.overlapSeconds * 1000),
    );
    this.jwksCache = { until, value: { keys: live.reverse().map((k) => ({ ...k.publicJwk })) } };
    return this.jwksCache.value;
  }

  async jwks(): Promise<{ keys: Jwk[] }> {
    return this.jwksSync();
  }

  private isPublished(k: KeyEntry, now: number): boolean {
    return k.retiredAt === null || now < k.retiredAt + this.settings.overlapSeconds * 1000;
  }
}

/** RFC 7638 JWK thumbprint (SHA-256): a kid every party can recompute from the public key. */
export function thumbprint(jwk: Record<string, unknown>): string {
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y } : { e: jwk.e, kty: 'RSA', n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

export function signingSettings(cfg: Partial<SigningKeySettings> | undefined): SigningKeySettings {
  const defined = Object.fromEntries(Object.entries(cfg ?? {}).filter(([, v]) => v !== undefined)) as Partial<SigningKeySettings>;
  return { ...DEFAULT_SIGNING_SETTINGS, ...defined };
}
