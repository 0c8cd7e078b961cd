import { timingSafeEqual } from 'node:crypto';
import { DomainError, type Decider, type EventOf } from '../../plugin/index.js';

/**
 * One OAuth grant (stream `grant-<grantId>`) as a Decider: issued once from a code, its refresh
 * token rotated, revoked. Pure: the GrantService checks the code, the client and the session, and
 * the CommandHandler loads, decides, appends at the expected revision and retries on a conflict,
 * so two redemptions of one code or two uses of one refresh token meet here, one after the other.
 */
export type GrantEvent = EventOf<'GrantIssued'> | EventOf<'RefreshTokenRotated'> | EventOf<'GrantRevoked'>;

export type GrantCommand =
  | { type: 'issue'; grant: EventOf<'GrantIssued'>['data'] }
  | { type: 'rotate'; grantId: string; presentedHash: string; newHash: string }
  | { type: 'revoke'; grantId: string; reason: string };

export interface GrantState {
  exists: boolean;
  clientId: string;
  userId: string;
  sessionId: string | null;
  scope: string;
  currentHash: string | null;
  previousHashes: Set<string>;
  revoked: boolean;
  expiresAt: number;
  authTime: number | null;
  /** Log position of the login the grant comes from; null in grants recorded before it existed. */
  loginPosition: number | null;
}

/** Why a grant command was refused: the caller maps it to an OAuth error (and revokes on a replay). */
export class GrantRefused extends DomainError {
  constructor(readonly reason: 'code_already_used' | 'unknown_grant' | 'revoked' | 'refresh_token_reused' | 'refresh_token_invalid') {
    super(reason === 'code_already_used' || reason === 'refresh_token_reused' ? 'replayed' : 'conflict', `grant refused: ${reason}`);
  }
}

const initialState = (): GrantState => ({
  exists: false,
  clientId: '',
  userId: '',
  sessionId: null,
  scope: '',
  currentHash: null,
  previousHashes: new Set(),
  revoked: false,
  expiresAt: 0,
  authTime: null,
  loginPosition: null,
});

function evolve(s: GrantState, e: GrantEvent): GrantState {
  switch (e.type) {
    case 'GrantIssued': {
      const d = e.data;
      return {
        ...s,
        exists: true,
        clientId: d.clientId,
        userId: d.userId,
        sessionId: d.sessionId,
        scope: d.scope,
        currentHash: d.refreshTokenHash,
        expiresAt: Date.parse(d.expiresAt),
        authTime: d.authTime ?? null,
        loginPosition: d.loginPosition ?? null,
      };
    }
    case 'RefreshTokenRotated':
      return { ...s, previousHashes: new Set([...s.previousHashes, e.data.previousHash]), currentHash: e.data.newHash };
    case 'GrantRevoked':
      return { ...s, revoked: true };
    default:
      return s;
  }
}

function decide(c: GrantCommand, s: GrantState): GrantEvent[] {
  switch (c.type) {
    case 'issue':
      // RFC 6749 §4.1.2: a code is redeemed once; the grant id is derived from it.
      if (s.exists) throw new GrantRefused('code_already_used');
      return [{ type: 'GrantIssued', data: c.grant }];
    case 'rotate':
      if (!s.exists) throw new GrantRefused('unknown_grant');
      if (s.revoked) throw new GrantRefused('revoked');
      // RFC 9700 §4.14.2: a rotated-out token presented again is a replay.
      if (s.previousHashes.has(c.presentedHash)) throw new GrantRefused('refresh_token_reused');
      if (!s.currentHash || !safeEqual(s.currentHash, c.presentedHash)) throw new GrantRefused('refresh_token_invalid');
      return [{ type: 'RefreshTokenRotated', data: { grantId: c.grantId, previousHash: c.presentedHash, newHash: c.newHash } }];
    case 'revoke':
      // Nothing to revoke, or revoked already: no event (the first reason stands).
      if (!s.exists || s.revoked) return [];
      return [{ type: 'GrantRevoked', data: { grantId: c.grantId, reason: c.reason } }];
  }
}

export const grantDecider: Decider<GrantCommand, GrantState, GrantEvent> = { initialState, evolve, decide };

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
