// Given events, when command, then events (or error): the first-run setup link as a Decider.
import { describe, it, expect } from 'vitest';
import type { EventOf } from '../../../core/index.js';
import {
  SetupLinkPending,
  SetupLinkRefused,
  hashSetupToken,
  setupDecider,
  type SetupCommand,
} from '../../../plugins/admin/setup-tokens.js';

type E = EventOf<'SetupTokenIssued'> | EventOf<'AdminBootstrapped'>;
const NOW = Date.parse('2026-01-01T00:00:00Z');
const A = hashSetupToken('token-a');
const B = hashSetupToken('token-b');
const issued = (tokenHash: string, minutes: number, issuedBy = 'node-1'): E => ({
  type: 'SetupTokenIssued',
  data: { tokenHash, expiresAt: new Date(NOW + minutes * 60_000).toISOString(), issuedBy },
});
const bootstrapped: E = { type: 'AdminBootstrapped', data: { userId: 'u-1' } };

function given(...events: E[]) {
  const state = events.reduce((s, e) => setupDecider.evolve(s, e), setupDecider.initialState());
  const run = (c: SetupCommand) => () => setupDecider.decide(c, state);
  return {
    when: (c: SetupCommand) => ({
      then: (expected: E[]) => expect(run(c)()).toEqual(expected),
      thenThrows: (type: new (...a: never[]) => Error, check?: (e: never) => void) => {
        let err: unknown;
        try {
          run(c)();
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(type);
        check?.(err as never);
      },
    }),
  };
}
const issue = (tokenHash: string): SetupCommand => ({
  type: 'issue',
  tokenHash,
  expiresAt: new Date(NOW + 3_600_000).toISOString(),
  issuedBy: 'node-2',
  now: NOW,
});
const claim = (tokenHash: string): SetupCommand => ({ type: 'claim', tokenHash, userId: 'u-1', now: NOW });

describe('setup link decider', () => {
  it('issue: the first link; a new one when the pending link is about to expire; the pending one otherwise', () => {
    given()
      .when(issue(A))
      .then([{ type: 'SetupTokenIssued', data: { tokenHash: A, expiresAt: new Date(NOW + 3_600_000).toISOString(), issuedBy: 'node-2' } }]);
    given(issued(A, 0.5))
      .when(issue(B))
      .then([{ type: 'SetupTokenIssued', data: { tokenHash: B, expiresAt: new Date(NOW + 3_600_000).toISOString(), issuedBy: 'node-2' } }]);
    given(issued(A, 30, 'node-1'))
      .when(issue(B))
      .thenThrows(SetupLinkPending, (e: SetupLinkPending) => expect(e.pendingFrom).toBe('node-1'));
  });

  it('claim: the latest unexpired link makes the first admin, once', () => {
    given(issued(A, 30)).when(claim(A)).then([bootstrapped]);
    given(issued(A, 30), bootstrapped)
      .when(claim(A))
      .thenThrows(SetupLinkRefused, (e: SetupLinkRefused) => expect(e.reason).toBe('setup_token_reused'));
  });

  it('claim: refuses an older link, an unknown one, an expired one, and any after the first admin', () => {
    given(issued(A, 30), issued(B, 30))
      .when(claim(A))
      .thenThrows(SetupLinkRefused, (e: SetupLinkRefused) => expect(e.reason).toBe('setup_token_invalid'));
    given(issued(A, 30))
      .when(claim(B))
      .thenThrows(SetupLinkRefused, (e: SetupLinkRefused) => expect(e.reason).toBe('setup_token_invalid'));
    given(issued(A, -1))
      .when(claim(A))
      .thenThrows(SetupLinkRefused, (e: SetupLinkRefused) => expect(e.reason).toBe('setup_token_expired'));
    given(issued(A, 30), bootstrapped)
      .when(claim(B))
      .thenThrows(SetupLinkRefused, (e: SetupLinkRefused) => expect(e.reason).toBe('setup_token_invalid'));
    given().when(claim(A)).thenThrows(SetupLinkRefused);
  });
});
