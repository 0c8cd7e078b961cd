import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import { defineEvent, DomainError, WrongExpectedRevision, type Clock, type EventStore } from '../../core/index.js';
import { decryptDir, encryptDir } from './key-cipher.js';

// The last accepted TOTP time step per user, so a code is accepted at most once (RFC 6238 §5.2:
// "the verifier MUST NOT accept the second attempt of the OTP after the successful validation").
declare module '../../core/events/catalog.js' {
  interface EventMap {
    TotpCodeAccepted: { userId: string; step: number };
  }
}
defineEvent('TotpCodeAccepted', 1);

export const totpStream = (userId: string): string => `totp-${userId}`;

export class TotpCodeRefused extends DomainError {
  constructor(readonly reason: 'bad_totp' | 'totp_replayed') {
    super(
      reason === 'totp_replayed' ? 'replayed' : 'unauthenticated',
      reason === 'totp_replayed' ? 'That code was already used; wait for the next one.' : 'That code is not valid.',
    );
  }
}

const PERIOD = 30;

/**
 * TOTP (RFC 6238, SHA-1, 6 digits, 30 s) with a ±1 step window for clock drift (§5.2), secrets
 * encrypted at rest (A256GCM under a key derived from the master key), replay refusal through the
 * `totp-<userId>` stream (appended with an expected revision, so two nodes cannot both accept the
 * same code). Recovery codes are in recovery-codes.ts.
 */
export class TotpService {
  constructor(
    private readonly store: EventStore,
    private readonly key: Buffer,
    private readonly clock: Clock,
    readonly issuer: string,
  ) {}

  newSecret(): string {
    return new Secret({ size: 20 }).base32;
  }

  uri(secretBase32: string, label: string): string {
    return new TOTP({ issuer: this.issuer, label, secret: Secret.fromBase32(secretBase32), period: PERIOD }).toString();
  }

  qrDataUrl(text: string): Promise<string> {
    return QRCode.toDataURL(text, { errorCorrectionLevel: 'M', margin: 2, width: 240 });
  }

  seal(secretBase32: string): string {
    return encryptDir(secretBase32, this.key, 'totp-secret');
  }

  open(secretCipher: string): string {
    return decryptDir(secretCipher, this.key);
  }

  /** A pending enrollment travels in the form (nothing stored until the first code confirms it). */
  sealEnrollment(secretBase32: string, subject: string, ttlSeconds = 900): string {
    const exp = Math.floor(this.clock.now().getTime() / 1000) + ttlSeconds;
    return encryptDir(JSON.stringify({ s: secretBase32, sub: subject, exp }), this.key, 'totp-enroll');
  }

  openEnrollment(sealed: string, subject: string): string {
    let v: { s?: unknown; sub?: unknown; exp?: unknown };
    try {
      v = JSON.parse(decryptDir(sealed, this.key)) as typeof v;
    } catch {
      throw new DomainError('invalid_input', 'The enrollment form was tampered with; start again.');
    }
    if (v.sub !== subject || typeof v.s !== 'string')
      throw new DomainError('invalid_input', 'The enrollment form does not belong to this account.');
    if (typeof v.exp !== 'number' || v.exp < this.clock.now().getTime() / 1000)
      throw new DomainError('expired', 'The enrollment form has expired; start again.');
    return v.s;
  }

  /** The time step the code matches (now ±1), or null. */
  match(secretBase32: string, code: string): number | null {
    const token = code.replace(/\s+/g, '');
    if (!/^\d{6}$/.test(token)) return null;
    const now = this.clock.now().getTime();
    const totp = new TOTP({ secret: Secret.fromBase32(secretBase32), period: PERIOD });
    const delta = totp.validate({ token, timestamp: now, window: 1 });
    return delta === null ? null : totp.counter({ timestamp: now }) + delta;
  }

  /** The code for a time (tests and the enrollment self-check only). */
  codeAt(secretBase32: string, at: Date): string {
    return new TOTP({ secret: Secret.fromBase32(secretBase32), period: PERIOD }).generate({ timestamp: at.getTime() });
  }

  /** Verifies the code and records its step; throws TotpCodeRefused when wrong or already used. */
  async verifyAndConsume(userId: string, secretBase32: string, code: string): Promise<number> {
    const step = this.match(secretBase32, code);
    if (step === null) throw new TotpCodeRefused('bad_totp');
    const history = await this.store.readStream(totpStream(userId));
    const last = history.length ? history[history.length - 1] : undefined;
    const lastStep = last ? (last.data as { step: number }).step : -1;
    if (step <= lastStep) throw new TotpCodeRefused('totp_replayed');
    try {
      await this.store.append(
        totpStream(userId),
        [{ type: 'TotpCodeAccepted', data: { userId, step }, metadata: { actor: `user:${userId}` } }],
        { expectedRevision: last ? last.revision : 'no_stream' },
      );
    } catch (err) {
      if (err instanceof WrongExpectedRevision) throw new TotpCodeRefused('totp_replayed');
      throw err;
    }
    return step;
  }
}
