// Given events, when command, then events (or error): the User decider as pure functions.
import { describe, it, expect } from 'vitest';
import { CommandRejected, NotFound, lastRevocationPosition, userDecider, type DomainEvent, type UserCommand } from '../../../core/index.js';

const U = 'u-1';
const registered: DomainEvent = { type: 'UserRegistered', data: { userId: U, email: 'a@example.com', name: 'A', admin: false } };

function given(...events: DomainEvent[]) {
  const state = events.reduce((s, e) => userDecider.evolve(s, e as never), userDecider.initialState());
  return {
    state,
    when: (c: UserCommand) => ({
      then: (expected: DomainEvent[]) => expect(userDecider.decide(c, state)).toEqual(expected),
      thenThrows: (type: new (...a: never[]) => Error, message?: RegExp) => {
        expect(() => userDecider.decide(c, state)).toThrow(type);
        if (message) expect(() => userDecider.decide(c, state)).toThrow(message);
      },
    }),
  };
}

describe('User decider', () => {
  it('register: a new user; twice is rejected', () => {
    given()
      .when({ type: 'register', userId: U, email: 'a@example.com', name: 'A' })
      .then([{ type: 'UserRegistered', data: { userId: U, email: 'a@example.com', name: 'A', admin: false, via: undefined } }]);
    given(registered)
      .when({ type: 'register', userId: U, email: null, name: null })
      .thenThrows(CommandRejected, /already exists/);
  });

  it('every other command needs an existing user', () => {
    given().when({ type: 'setPassword', passwordHash: 'h' }).thenThrows(NotFound);
    given().when({ type: 'ban', reason: 'x', actor: 'admin:1' }).thenThrows(NotFound);
  });

  it('set password hash', () => {
    given(registered)
      .when({ type: 'setPassword', passwordHash: '$argon2id$x' })
      .then([{ type: 'PasswordSet', data: { userId: U, passwordHash: '$argon2id$x' } }]);
    expect(given(registered, { type: 'PasswordSet', data: { userId: U, passwordHash: 'h1' } }).state.passwordHash).toBe('h1');
  });

  it('revokeCredentials records CredentialsRevoked every time; the last voiding event is what counts, an unban undoes none', () => {
    given(registered)
      .when({ type: 'revokeCredentials', reason: 'logout_everywhere' })
      .then([{ type: 'CredentialsRevoked', data: { userId: U, reason: 'logout_everywhere' } }]);
    const log = [
      { type: 'UserRegistered', position: 1 },
      { type: 'CredentialsRevoked', position: 5 },
      { type: 'UserBanned', position: 9 },
      { type: 'UserUnbanned', position: 12 },
      { type: 'AccountEnabled', position: 13 },
    ];
    expect(lastRevocationPosition(log)).toBe(9);
    expect(lastRevocationPosition(log.slice(0, 1))).toBe(0);
  });

  it('disable / enable, each idempotent', () => {
    const disabled: DomainEvent = { type: 'AccountDisabled', data: { userId: U, reason: 'left' } };
    given(registered).when({ type: 'disable', reason: 'left' }).then([disabled]);
    given(registered, disabled).when({ type: 'disable', reason: 'again' }).then([]);
    given(registered, disabled)
      .when({ type: 'enable' })
      .then([{ type: 'AccountEnabled', data: { userId: U } }]);
    given(registered).when({ type: 'enable' }).then([]);
    expect(given(registered, disabled).state.disabled).toBe(true);
    expect(given(registered, disabled, { type: 'AccountEnabled', data: { userId: U } }).state.disabled).toBe(false);
  });

  it('ban needs a reason and records the actor; a second ban is a no-op; unban lifts it', () => {
    const banned: DomainEvent = { type: 'UserBanned', data: { userId: U, reason: 'spam', actor: 'admin:7', until: null } };
    given(registered).when({ type: 'ban', reason: 'spam', actor: 'admin:7' }).then([banned]);
    given(registered)
      .when({ type: 'ban', reason: '   ', actor: 'admin:7' })
      .thenThrows(CommandRejected, /reason/);
    given(registered, banned).when({ type: 'ban', reason: 'more', actor: 'admin:8' }).then([]);
    expect(given(registered, banned).state.banned).toEqual({ reason: 'spam', actor: 'admin:7', until: null });
    given(registered, banned)
      .when({ type: 'unban', reason: 'appeal', actor: 'admin:9' })
      .then([{ type: 'UserUnbanned', data: { userId: U, reason: 'appeal', actor: 'admin:9' } }]);
    given(registered).when({ type: 'unban', reason: null, actor: 'admin:9' }).then([]);
  });

  it('erase forgets personal data, keeps the ban, and refuses every later command', () => {
    const banned: DomainEvent = { type: 'UserBanned', data: { userId: U, reason: 'spam', actor: 'admin:7', until: null } };
    const erased: DomainEvent = { type: 'UserErased', data: { userId: U, actor: 'admin:1', reason: null } };
    given(registered).when({ type: 'erase', actor: 'admin:1' }).then([erased]);
    const s = given(registered, { type: 'PasswordSet', data: { userId: U, passwordHash: 'h' } }, banned, erased).state;
    expect(s).toMatchObject({ erased: true, email: null, name: null, passwordHash: null, banned: { reason: 'spam' } });
    given(registered, erased)
      .when({ type: 'setPassword', passwordHash: 'h' })
      .thenThrows(CommandRejected, /erased/);
    given(registered, erased).when({ type: 'register', userId: U, email: null, name: null }).thenThrows(CommandRejected);
  });

  it('identities: link is idempotent, unlink of an unlinked identity is NotFound', () => {
    const linked: DomainEvent = {
      type: 'ExternalIdentityLinked',
      data: { userId: U, issuer: 'https://idp', subject: 's1', via: undefined },
    };
    given(registered).when({ type: 'linkIdentity', issuer: 'https://idp', subject: 's1' }).then([linked]);
    given(registered, linked).when({ type: 'linkIdentity', issuer: 'https://idp', subject: 's1' }).then([]);
    given(registered, linked)
      .when({ type: 'unlinkIdentity', issuer: 'https://idp', subject: 's1' })
      .then([{ type: 'ExternalIdentityUnlinked', data: { userId: U, issuer: 'https://idp', subject: 's1' } }]);
    given(registered).when({ type: 'unlinkIdentity', issuer: 'https://idp', subject: 's1' }).thenThrows(NotFound);
  });

  it('admin grant/revoke, roles, recovery codes', () => {
    given(registered)
      .when({ type: 'grantAdmin' })
      .then([{ type: 'AdminGranted', data: { userId: U } }]);
    given(registered, { type: 'AdminGranted', data: { userId: U } })
      .when({ type: 'grantAdmin' })
      .then([]);
    given(registered).when({ type: 'revokeAdmin' }).then([]);
    const roles: DomainEvent = { type: 'RolesAssigned', data: { userId: U, roles: ['a', 'b'], tenant: 't', source: 'idp' } };
    given(registered)
      .when({ type: 'assignRoles', roles: ['a', 'b'], tenant: 't', source: 'idp' })
      .then([roles]);
    given(registered, roles)
      .when({ type: 'assignRoles', roles: ['a', 'b'], tenant: 't', source: 'idp' })
      .then([]);
    const totp: DomainEvent = { type: 'TotpEnrolled', data: { userId: U, secretCipher: 'c', recoveryCodeHashes: ['r0', 'r1'] } };
    given(registered, totp)
      .when({ type: 'useRecoveryCode', index: 1 })
      .then([{ type: 'RecoveryCodeUsed', data: { userId: U, index: 1 } }]);
    given(registered, totp, { type: 'RecoveryCodeUsed', data: { userId: U, index: 1 } })
      .when({ type: 'useRecoveryCode', index: 1 })
      .thenThrows(CommandRejected);
    given(registered).when({ type: 'removeTotp' }).then([]);
  });
});
