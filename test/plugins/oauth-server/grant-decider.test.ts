// Given events, when command, then events (or error): the OAuth grant as a Decider.
import { describe, it, expect } from 'vitest';
import { grantDecider, GrantRefused, type GrantCommand, type GrantEvent } from '../../../plugins/oauth-server/grant.js';
import '../../../plugins/oauth-server/events.js';

const G = 'g-1';
const grant = {
  grantId: G,
  clientId: 'app',
  userId: 'u-1',
  sessionId: 's-1',
  scope: 'openid',
  refreshTokenHash: 'h0',
  expiresAt: '2030-01-01T00:00:00.000Z',
  authTime: 1,
  loginPosition: 7,
};
const issued: GrantEvent = { type: 'GrantIssued', data: grant };
const rotated = (from: string, to: string): GrantEvent => ({
  type: 'RefreshTokenRotated',
  data: { grantId: G, previousHash: from, newHash: to },
});
const revoked: GrantEvent = { type: 'GrantRevoked', data: { grantId: G, reason: 'admin' } };

function given(...events: GrantEvent[]) {
  const state = events.reduce((s, e) => grantDecider.evolve(s, e), grantDecider.initialState());
  return {
    state,
    when: (c: GrantCommand) => ({
      then: (expected: GrantEvent[]) => expect(grantDecider.decide(c, state)).toEqual(expected),
      thenRefused: (reason: GrantRefused['reason']) => {
        let err: unknown;
        try {
          grantDecider.decide(c, state);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(GrantRefused);
        expect((err as GrantRefused).reason).toBe(reason);
      },
    }),
  };
}

describe('OAuth grant decider', () => {
  it('issue: a code makes one grant; a second redemption of the same code is refused', () => {
    given().when({ type: 'issue', grant }).then([issued]);
    given(issued).when({ type: 'issue', grant }).thenRefused('code_already_used');
  });

  it('rotate: the current token rotates; the one rotated out is a replay; an unknown one is invalid', () => {
    given(issued)
      .when({ type: 'rotate', grantId: G, presentedHash: 'h0', newHash: 'h1' })
      .then([rotated('h0', 'h1')]);
    given(issued, rotated('h0', 'h1'))
      .when({ type: 'rotate', grantId: G, presentedHash: 'h1', newHash: 'h2' })
      .then([rotated('h1', 'h2')]);
    given(issued, rotated('h0', 'h1'))
      .when({ type: 'rotate', grantId: G, presentedHash: 'h0', newHash: 'hx' })
      .thenRefused('refresh_token_reused');
    given(issued).when({ type: 'rotate', grantId: G, presentedHash: 'nope', newHash: 'hx' }).thenRefused('refresh_token_invalid');
    given().when({ type: 'rotate', grantId: G, presentedHash: 'h0', newHash: 'hx' }).thenRefused('unknown_grant');
    given(issued, revoked).when({ type: 'rotate', grantId: G, presentedHash: 'h0', newHash: 'hx' }).thenRefused('revoked');
  });

  it('rotate: a grant without a refresh token has nothing to rotate', () => {
    const noRefresh: GrantEvent = { type: 'GrantIssued', data: { ...grant, refreshTokenHash: null } };
    given(noRefresh).when({ type: 'rotate', grantId: G, presentedHash: 'h0', newHash: 'hx' }).thenRefused('refresh_token_invalid');
  });

  it('revoke: once; revoking again or revoking nothing records nothing', () => {
    given(issued).when({ type: 'revoke', grantId: G, reason: 'admin' }).then([revoked]);
    given(issued, revoked).when({ type: 'revoke', grantId: G, reason: 'again' }).then([]);
    given().when({ type: 'revoke', grantId: G, reason: 'admin' }).then([]);
  });

  it('evolve: the state a request reads back', () => {
    const s = given(issued, rotated('h0', 'h1')).state;
    expect(s).toMatchObject({
      exists: true,
      clientId: 'app',
      userId: 'u-1',
      currentHash: 'h1',
      revoked: false,
      loginPosition: 7,
      expiresAt: Date.parse(grant.expiresAt),
    });
    expect([...s.previousHashes]).toEqual(['h0']);
    // A grant recorded before loginPosition existed: unknown here (the service defaults it to the event's position).
    expect(given({ type: 'GrantIssued', data: { ...grant, loginPosition: undefined } }).state.loginPosition).toBeNull();
  });
});
