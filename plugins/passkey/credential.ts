import { DomainError, type Decider, type EventOf } from '../../plugin/index.js';

/**
 * One passkey (stream `passkey-<credentialId>`) as a Decider: registered once, used with a
 * signature counter that must move forward (WebAuthn §6.1.1), renamed and removed by its owner.
 * Run by the CommandHandler: two logins racing with one counter value are decided one after the
 * other, and the second meets the counter the first recorded.
 */
export type PasskeyEvent =
  | EventOf<'PasskeyRegistered'>
  | EventOf<'PasskeyUsed'>
  | EventOf<'PasskeyCounterRejected'>
  | EventOf<'PasskeyRenamed'>
  | EventOf<'PasskeyRemoved'>;

export type PasskeyCommand =
  | { type: 'register'; passkey: EventOf<'PasskeyRegistered'>['data'] }
  /** A verified assertion (the signature was checked before this is decided). */
  | { type: 'use'; userId: string; counter: number; backedUp: boolean }
  | { type: 'rename'; userId: string; name: string }
  | { type: 'remove'; userId: string };

export interface PasskeyState {
  /** The stream was ever written: a credential id is registered once. */
  registered: boolean;
  removed: boolean;
  credentialId: string;
  userId: string;
  counter: number;
}

export class PasskeyRefused extends DomainError {
  constructor(readonly reason: 'already_registered' | 'unknown_passkey' | 'not_yours') {
    super(reason === 'already_registered' ? 'conflict' : 'not_found', `passkey refused: ${reason}`);
  }
}

export const passkeyDecider: Decider<PasskeyCommand, PasskeyState, PasskeyEvent> = {
  initialState: () => ({ registered: false, removed: false, credentialId: '', userId: '', counter: 0 }),
  evolve: (s, e) => {
    switch (e.type) {
      case 'PasskeyRegistered':
        return { ...s, registered: true, credentialId: e.data.credentialId, userId: e.data.userId, counter: e.data.counter };
      case 'PasskeyUsed':
        return { ...s, counter: e.data.counter };
      case 'PasskeyRemoved':
        return { ...s, removed: true };
      default:
        return s;
    }
  },
  decide: (c, s) => {
    if (c.type === 'register') {
      if (s.registered) throw new PasskeyRefused('already_registered');
      return [{ type: 'PasskeyRegistered', data: c.passkey }];
    }
    if (!s.registered || s.removed) throw new PasskeyRefused('unknown_passkey');
    if (c.userId !== s.userId) throw new PasskeyRefused('not_yours');
    const ids = { userId: s.userId, credentialId: s.credentialId };
    switch (c.type) {
      case 'use':
        // When either side counts, the presented value must exceed the stored one; otherwise a
        // second authenticator holds this key (a clone): recorded, and the login refused.
        if ((s.counter > 0 || c.counter > 0) && c.counter <= s.counter)
          return [{ type: 'PasskeyCounterRejected', data: { ...ids, stored: s.counter, presented: c.counter } }];
        return [{ type: 'PasskeyUsed', data: { ...ids, counter: c.counter, backedUp: c.backedUp } }];
      case 'rename':
        return [{ type: 'PasskeyRenamed', data: { ...ids, name: c.name } }];
      case 'remove':
        return [{ type: 'PasskeyRemoved', data: ids }];
    }
  },
};
