// Given events, when command, then events (or error): one passkey as a Decider.
import { describe, it, expect } from 'vitest';
import { PasskeyRefused, passkeyDecider, type PasskeyCommand, type PasskeyEvent } from '../../../plugins/passkey/credential.js';

const ids = { userId: 'u-1', credentialId: 'cred-1' };
const passkey = {
  ...ids,
  publicKey: 'pk',
  counter: 5,
  transports: ['internal'],
  deviceType: 'singleDevice',
  backedUp: false,
  name: 'Laptop',
};
const registered: PasskeyEvent = { type: 'PasskeyRegistered', data: passkey };
const used = (counter: number): PasskeyEvent => ({ type: 'PasskeyUsed', data: { ...ids, counter, backedUp: false } });
const removed: PasskeyEvent = { type: 'PasskeyRemoved', data: ids };

function given(...events: PasskeyEvent[]) {
  const state = events.reduce((s, e) => passkeyDecider.evolve(s, e), passkeyDecider.initialState());
  return {
    when: (c: PasskeyCommand) => ({
      then: (expected: PasskeyEvent[]) => expect(passkeyDecider.decide(c, state)).toEqual(expected),
      thenRefused: (reason: PasskeyRefused['reason']) => {
        let err: unknown;
        try {
          passkeyDecider.decide(c, state);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(PasskeyRefused);
        expect((err as PasskeyRefused).reason).toBe(reason);
      },
    }),
  };
}
const use = (counter: number, userId = 'u-1'): PasskeyCommand => ({ type: 'use', userId, counter, backedUp: false });

describe('passkey decider', () => {
  it('register: once per credential id, even after it was removed', () => {
    given().when({ type: 'register', passkey }).then([registered]);
    given(registered).when({ type: 'register', passkey }).thenRefused('already_registered');
    given(registered, removed).when({ type: 'register', passkey }).thenRefused('already_registered');
  });

  it('use: the counter must move forward; one that does not is recorded as a clone', () => {
    given(registered)
      .when(use(6))
      .then([used(6)]);
    given(registered, used(9))
      .when(use(9))
      .then([{ type: 'PasskeyCounterRejected', data: { ...ids, stored: 9, presented: 9 } }]);
    given(registered)
      .when(use(3))
      .then([{ type: 'PasskeyCounterRejected', data: { ...ids, stored: 5, presented: 3 } }]);
  });

  it('use: an authenticator that does not count (0 on both sides) passes', () => {
    const zero: PasskeyEvent = { type: 'PasskeyRegistered', data: { ...passkey, counter: 0 } };
    given(zero)
      .when(use(0))
      .then([used(0)]);
  });

  it('use, rename, remove: only a registered, present passkey, by its owner', () => {
    given().when(use(6)).thenRefused('unknown_passkey');
    given(registered, removed).when(use(6)).thenRefused('unknown_passkey');
    given(registered).when(use(6, 'u-2')).thenRefused('not_yours');
    given(registered)
      .when({ type: 'rename', userId: 'u-1', name: 'Phone' })
      .then([{ type: 'PasskeyRenamed', data: { ...ids, name: 'Phone' } }]);
    given(registered).when({ type: 'remove', userId: 'u-2' }).thenRefused('not_yours');
    given(registered).when({ type: 'remove', userId: 'u-1' }).then([removed]);
  });
});
