import { timingSafeEqual } from 'node:crypto';
import { EncryptJWT, jwtDecrypt, errors as joseErrors } from 'jose';
import type { FastifyReply } from 'fastify';
import { DomainError } from '../../plugin/index.js';
import type { SamlPeer } from './entities.js';
import { SamlRejected } from './errors.js';

/** What one SP-initiated login remembers until the ACS: which AuthnRequest, and what to resume. */
export interface PendingLogin {
  /** Provider id (`saml-<name>`). */
  idp: string;
  /** The AuthnRequest ID the response must answer (`InResponseTo`). */
  rid: string;
  /** The login request token to resume, if any. */
  lr: string | null;
}

/** Browsers drop a cookie over ~4096 bytes (RFC 6265 §6.1): refuse to start rather than fail silently at the ACS. */
const MAX_COOKIE_VALUE = 3800;

/**
 * Binds an SP-initiated login to the browser that started it (login CSRF / login injection:
 * without it, an attacker could post their own genuine response from a victim's browser and log
 * the victim in as the attacker). The pending login travels in a cookie encrypted to the broker
 * (JWE `dir`/A256GCM under a derived key): any node can finish it and nothing is stored per
 * attempt, so an anonymous GET of the login route writes nothing to the event log.
 *
 * Cookie attributes, and why:
 * - `SameSite=None; Secure`: the ACS is a cross-site POST from the IdP (saml-bindings §3.5), on
 *   which Lax and Strict cookies are not sent. In the insecure-cookie dev mode (plain http) None is
 *   not allowed without Secure, so no SameSite attribute is sent (the browser's default).
 * - `__Host-` prefix (Path=/, no Domain): a sibling subdomain cannot plant its own pending login
 *   in the victim's browser (cookie tossing), which would defeat the binding.
 * - HttpOnly, Max-Age = `sp.requestTtlSeconds`; cleared once a response is accepted.
 */
export class LoginBindings {
  constructor(
    private readonly key: Uint8Array,
    private readonly ttlSeconds: number,
    private readonly secure: boolean,
    /** `broker_saml_` for logins; SP-initiated logouts keep their LogoutRequest ID under `broker_slo_`. */
    private readonly prefix = 'broker_saml_',
  ) {}

  cookieName(peer: SamlPeer): string {
    return `${this.secure ? '__Host-' : ''}${this.prefix}${peer.config.name}`;
  }

  cookieOptions(): NonNullable<Parameters<FastifyReply['setCookie']>[2]> {
    // `false`: no attribute (@fastify/cookie would otherwise default to Lax).
    return { path: '/', httpOnly: true, secure: this.secure, sameSite: this.secure ? 'none' : false };
  }

  async seal(p: PendingLogin, now: Date): Promise<{ value: string; maxAge: number }> {
    const iat = Math.floor(now.getTime() / 1000);
    const value = await new EncryptJWT({ ...p })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.ttlSeconds)
      .encrypt(this.key);
    if (value.length > MAX_COOKIE_VALUE) throw new DomainError('invalid_input', 'The login request is too large to start a SAML login.');
    return { value, maxAge: this.ttlSeconds };
  }

  /**
   * The pending login this browser holds for `peer`, which must be the one `inResponseTo` answers
   * (saml-profiles §4.1.4.3). Refusals: no or unreadable cookie (`saml_not_started_here`), expired
   * (`saml_request_expired`), another request or IdP (`saml_unknown_request`).
   */
  async expect(peer: SamlPeer, cookie: string | undefined, inResponseTo: string, now: Date): Promise<PendingLogin> {
    const notHere = new SamlRejected('saml_not_started_here', 'This login was not started in this browser; start again.', 'forbidden');
    if (!cookie) throw notHere;
    let p: Record<string, unknown>;
    try {
      ({ payload: p } = await jwtDecrypt(cookie, this.key, {
        currentDate: now,
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired)
        throw new SamlRejected('saml_request_expired', 'The login took too long; start again.', 'expired');
      throw notHere;
    }
    if (typeof p.idp !== 'string' || typeof p.rid !== 'string' || (p.lr !== null && typeof p.lr !== 'string')) throw notHere;
    const a = Buffer.from(p.rid);
    const b = Buffer.from(inResponseTo);
    if (p.idp !== peer.id || a.length !== b.length || !timingSafeEqual(a, b)) {
      throw new SamlRejected(
        'saml_unknown_request',
        'This SAML response answers a login this browser did not start; start again.',
        'forbidden',
      );
    }
    return { idp: p.idp, rid: p.rid, lr: p.lr as string | null };
  }
}
