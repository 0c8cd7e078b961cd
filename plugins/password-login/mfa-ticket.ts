import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { DomainError, defineEvent, useOnce, type EventStore, type Ids } from '../../plugin/index.js';

declare module '../../core/events/catalog.js' {
  interface EventMap {
    /** Stream `mfa-ticket-<hash>`, appended `no_stream`: the ticket completed a login once, on any node. */
    MfaTicketUsed: { userId: string; ticketHash: string };
  }
}
defineEvent('MfaTicketUsed', 1, {}, { fields: { userId: 'string', ticketHash: 'string' } });

/**
 * Carries "the password was right" from the password step to the TOTP step: an HMAC-SHA256-signed,
 * short-lived statement naming the user, the login-name key, the pending login request and a
 * random id. It proves one factor only; the session is opened after the second. A wrong code
 * leaves it usable (the lockout bounds the guesses); the login it completes uses it up, so a
 * captured ticket cannot open a second session with a later code.
 */
export interface MfaTicket {
  uid: string;
  /** Login-name hash (the lockout key). */
  key: string;
  lr: string;
  /** Random id: what `MfaTicketUsed` records (hashed). */
  jti: string;
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
    private readonly store: EventStore,
    private readonly ids: Ids,
    private readonly ttlSeconds = 300,
  ) {}

  issue(t: Omit<MfaTicket, 'exp' | 'jti'>, now: Date): string {
    const body = Buffer.from(
      JSON.stringify({ ...t, jti: this.ids.token(16), exp: Math.floor(now.getTime() / 1000) + this.ttlSeconds }),
    ).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  open(token: string, now: Date): MfaTicket {
    const [body, mac] = token.split('.');
    if (!body || !mac) throw new MfaTicketInvalid('The login form is malformed; start again.');
    const a = Buffer.from(mac, 'base64url');
    const b = Buffer.from(this.mac(body), 'base64url');
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new MfaTicketInvalid('The login form was tampered with; start again.');
    const t = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as MfaTicket;
    if (typeof t.exp !== 'number' || t.exp < now.getTime() / 1000)
      throw new DomainError('expired', 'The login took too long; start again.');
    if (typeof t.jti !== 'string' || !t.jti) throw new MfaTicketInvalid('The login form is malformed; start again.');
    return t;
  }

  /** Uses the ticket up; throws MfaTicketInvalid when it already completed a login (here or on another node). */
  async consume(t: MfaTicket): Promise<void> {
    const ticketHash = createHash('sha256').update(t.jti).digest('base64url');
    if (
      !(await useOnce(
        this.store,
        `mfa-ticket-${ticketHash.slice(0, 32)}`,
        { type: 'MfaTicketUsed', data: { userId: t.uid, ticketHash } },
        { actor: `user:${t.uid}` },
      ))
    ) {
      throw new MfaTicketInvalid('This login form was already used; start again.');
    }
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update('mfa-ticket.v1.').update(body).digest('base64url');
  }
}
