import { createHmac, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../../core/index.js';

/**
 * Carries "the password was right" from the password step to the TOTP step without server state:
 * an HMAC-SHA256-signed, short-lived statement naming the user, the login-name key and the pending
 * login request. It proves one factor only; the session is opened after the second.
 */
export interface MfaTicket {
  uid: string;
  /** Login-name hash (the lockout key). */
  key: string;
  lr: string;
  exp: number;
}

export class MfaTicketInvalid extends DomainError {
  constructor(message: string) {
    super('invalid_input', message);
  }
}

export class MfaTickets {
  constructor(
    private readonly key: Buffer,
    private readonly ttlSeconds = 300,
  ) {}

  issue(t: Omit<MfaTicket, 'exp'>, now: Date): string {
    const body = Buffer.from(JSON.stringify({ ...t, exp: Math.floor(now.getTime() / 1000) + this.ttlSeconds })).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  open(token: string, now: Date): MfaTicket {
    const [body, mac] = token.split('.');
    if (!body || !mac) throw new MfaTicketInvalid('The login form is malformed; start again.');
    const a = Buffer.from(mac, 'base64url');
    const b = Buffer.from(this.mac(body), 'base64url');
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new MfaTicketInvalid('The login form was tampered with; start again.');
    const t = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as MfaTicket;
    if (typeof t.exp !== 'number' || t.exp < now.getTime() / 1000) throw new DomainError('expired', 'The login took too long; start again.');
    return t;
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update('mfa-ticket.v1.').update(body).digest('base64url');
  }
}
