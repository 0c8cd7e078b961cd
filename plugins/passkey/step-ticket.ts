import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { DomainError, useOnce, type AuthenticatedIdentity, type EventStore, type Ids } from '../../plugin/index.js';
import './events.js';

/** Longest ticket the step routes accept (it travels in a URL and form fields). */
export const MAX_TICKET = 12_000;

/** `assert`: prove a registered passkey. `enrol`: the policy wants one and the user has none (or lost theirs). */
export type StepMode = 'assert' | 'enrol';

/**
 * Carries a login that the core held back (the passkey step, see login-step.ts) to the passkey
 * page and back: the identity already proven (its `amr` says how), the identity provider it came
 * through and the pending login request. HMAC-SHA256-signed under a key derived from the master
 * key, so any node can open it; short-lived; used up (an event, `no_stream`) by the step that
 * completes it, so a captured ticket cannot complete a second login.
 */
export interface StepTicket {
  uid: string;
  identity: AuthenticatedIdentity;
  idp: string;
  lr: string;
  mode: StepMode;
  jti: string;
  exp: number;
}

export class StepTicketInvalid extends DomainError {
  constructor(message: string) {
    super('invalid_input', message);
  }
}

export class StepTickets {
  constructor(
    private readonly key: Buffer,
    private readonly store: EventStore,
    private readonly ids: Ids,
    private readonly ttlSeconds = 300,
  ) {}

  issue(t: Omit<StepTicket, 'exp' | 'jti'>, now: Date): string {
    // The user is resolved: the resumed login skips linking and provisioning.
    const body = {
      ...t,
      identity: { ...t.identity, userId: t.uid },
      jti: this.ids.token(16),
      exp: Math.floor(now.getTime() / 1000) + this.ttlSeconds,
    };
    let encoded = Buffer.from(JSON.stringify(body)).toString('base64url');
    // It travels in a URL: an IdP's bulky attributes (only enrichers read them) are left out rather than the login failing.
    if (encoded.length > MAX_TICKET / 2)
      encoded = Buffer.from(JSON.stringify({ ...body, identity: { ...body.identity, attributes: undefined } })).toString('base64url');
    return `${encoded}.${this.mac(encoded)}`;
  }

  open(token: string, now: Date): StepTicket {
    const [body, mac] = token.split('.');
    if (!body || !mac) throw new StepTicketInvalid('The login step is malformed; start again.');
    const a = Buffer.from(mac, 'base64url');
    const b = Buffer.from(this.mac(body), 'base64url');
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new StepTicketInvalid('The login step was tampered with; start again.');
    const t = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as StepTicket;
    if (typeof t.exp !== 'number' || t.exp < now.getTime() / 1000)
      throw new DomainError('expired', 'The login took too long; start again.');
    return t;
  }

  /** Uses the ticket up; throws StepTicketInvalid when it already completed a step (here or on another node). */
  async consume(t: StepTicket): Promise<void> {
    const ticketHash = createHash('sha256').update(t.jti).digest('base64url');
    if (
      !(await useOnce(
        this.store,
        `passkey-step-${ticketHash.slice(0, 32)}`,
        { type: 'PasskeyStepUsed', data: { userId: t.uid, ticketHash } },
        { actor: `user:${t.uid}` },
      ))
    ) {
      throw new StepTicketInvalid('This login step was already completed; start again.');
    }
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update('passkey-step.v1.').update(body).digest('base64url');
  }
}
