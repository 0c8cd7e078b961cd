import type { DomainEvent, EventOf } from '../events/catalog.js';
import { CommandRejected, NotFound } from '../errors.js';
import type { Decider } from './decider.js';

/** Stream id of a user aggregate. */
export const userStream = (userId: string): string => `user-${userId}`;

export interface UserState {
  exists: boolean;
  erased: boolean;
  userId: string | null;
  email: string | null;
  name: string | null;
  admin: boolean;
  disabled: boolean;
  banned: { reason: string; actor: string; until: string | null } | null;
  passwordHash: string | null;
  totp: { secretCipher: string; recoveryCodeHashes: (string | null)[] } | null;
  identities: { issuer: string; subject: string }[];
  roles: string[];
  tenant: string | null;
}

export type UserCommand =
  | { type: 'register'; userId: string; email: string | null; name: string | null; admin?: boolean; via?: string }
  | { type: 'updateProfile'; email?: string | null; name?: string | null }
  | { type: 'setPassword'; passwordHash: string }
  | { type: 'enrollTotp'; secretCipher: string; recoveryCodeHashes: string[] }
  | { type: 'removeTotp' }
  | { type: 'useRecoveryCode'; index: number }
  | { type: 'grantAdmin' }
  | { type: 'revokeAdmin' }
  | { type: 'disable'; reason: string | null }
  | { type: 'enable' }
  | { type: 'ban'; reason: string; actor: string; until?: string | null }
  | { type: 'unban'; reason: string | null; actor: string }
  | { type: 'erase'; actor: string; reason?: string | null }
  | { type: 'revokeCredentials'; reason: string }
  | { type: 'linkIdentity'; issuer: string; subject: string; via?: string }
  | { type: 'unlinkIdentity'; issuer: string; subject: string }
  | { type: 'recordProvisioned'; issuer: string; subject: string; policy: string }
  | { type: 'assignRoles'; roles: string[]; tenant?: string | null; source: string };

type UserEvent = Extract<
  DomainEvent,
  {
    type:
      | 'UserRegistered'
      | 'UserProfileUpdated'
      | 'PasswordSet'
      | 'TotpEnrolled'
      | 'TotpRemoved'
      | 'RecoveryCodeUsed'
      | 'AdminGranted'
      | 'AdminRevoked'
      | 'AccountDisabled'
      | 'AccountEnabled'
      | 'UserBanned'
      | 'UserUnbanned'
      | 'UserErased'
      | 'CredentialsRevoked'
      | 'ExternalIdentityLinked'
      | 'ExternalIdentityUnlinked'
      | 'AccountProvisioned'
      | 'RolesAssigned';
  }
>;

const initialState = (): UserState => ({
  exists: false,
  erased: false,
  userId: null,
  email: null,
  name: null,
  admin: false,
  disabled: false,
  banned: null,
  passwordHash: null,
  totp: null,
  identities: [],
  roles: [],
  tenant: null,
});

function evolve(s: UserState, e: UserEvent): UserState {
  switch (e.type) {
    case 'UserRegistered':
      return { ...s, exists: true, userId: e.data.userId, email: e.data.email, name: e.data.name, admin: !!e.data.admin };
    case 'UserProfileUpdated':
      return {
        ...s,
        email: e.data.email === undefined ? s.email : e.data.email,
        name: e.data.name === undefined ? s.name : e.data.name,
      };
    case 'PasswordSet':
      return { ...s, passwordHash: e.data.passwordHash };
    case 'TotpEnrolled':
      return { ...s, totp: { secretCipher: e.data.secretCipher, recoveryCodeHashes: e.data.recoveryCodeHashes.slice() } };
    case 'TotpRemoved':
      return { ...s, totp: null };
    case 'RecoveryCodeUsed': {
      if (!s.totp) return s;
      const codes = s.totp.recoveryCodeHashes.slice();
      codes[e.data.index] = null;
      return { ...s, totp: { ...s.totp, recoveryCodeHashes: codes } };
    }
    case 'AdminGranted':
      return { ...s, admin: true };
    case 'AdminRevoked':
      return { ...s, admin: false };
    case 'AccountDisabled':
      return { ...s, disabled: true };
    case 'AccountEnabled':
      return { ...s, disabled: false };
    case 'UserBanned':
      return { ...s, banned: { reason: e.data.reason, actor: e.data.actor, until: e.data.until ?? null } };
    case 'UserUnbanned':
      return { ...s, banned: null };
    case 'UserErased':
      return { ...initialState(), exists: true, erased: true, userId: s.userId, banned: s.banned };
    case 'CredentialsRevoked':
      return s; // a fact about what was issued before it, not about the account
    case 'ExternalIdentityLinked':
      return { ...s, identities: [...s.identities, { issuer: e.data.issuer, subject: e.data.subject }] };
    case 'ExternalIdentityUnlinked':
      return {
        ...s,
        identities: s.identities.filter((i) => !(i.issuer === e.data.issuer && i.subject === e.data.subject)),
      };
    case 'AccountProvisioned':
      return s;
    case 'RolesAssigned':
      return { ...s, roles: e.data.roles.slice(), tenant: e.data.tenant ?? s.tenant };
  }
}

function ev<K extends UserEvent['type']>(type: K, data: EventOf<K>['data']): UserEvent {
  return { type, data } as UserEvent;
}

function decide(c: UserCommand, s: UserState): UserEvent[] {
  if (c.type === 'register') {
    if (s.exists) throw new CommandRejected(`user ${c.userId} already exists`);
    return [ev('UserRegistered', { userId: c.userId, email: c.email, name: c.name, admin: !!c.admin, via: c.via })];
  }
  if (!s.exists || !s.userId) throw new NotFound('no such user');
  if (s.erased) throw new CommandRejected('user was erased');
  const userId = s.userId;
  switch (c.type) {
    case 'updateProfile':
      return [ev('UserProfileUpdated', { userId, email: c.email, name: c.name })];
    case 'setPassword':
      return [ev('PasswordSet', { userId, passwordHash: c.passwordHash })];
    case 'enrollTotp':
      return [ev('TotpEnrolled', { userId, secretCipher: c.secretCipher, recoveryCodeHashes: c.recoveryCodeHashes })];
    case 'removeTotp':
      return s.totp ? [ev('TotpRemoved', { userId })] : [];
    case 'useRecoveryCode':
      if (!s.totp || s.totp.recoveryCodeHashes[c.index] == null) throw new CommandRejected('recovery code already used');
      return [ev('RecoveryCodeUsed', { userId, index: c.index })];
    case 'grantAdmin':
      return s.admin ? [] : [ev('AdminGranted', { userId })];
    case 'revokeAdmin':
      return s.admin ? [ev('AdminRevoked', { userId })] : [];
    case 'disable':
      return s.disabled ? [] : [ev('AccountDisabled', { userId, reason: c.reason })];
    case 'enable':
      return s.disabled ? [ev('AccountEnabled', { userId })] : [];
    case 'ban':
      if (!c.reason.trim()) throw new CommandRejected('a ban needs a reason');
      return s.banned ? [] : [ev('UserBanned', { userId, reason: c.reason, actor: c.actor, until: c.until ?? null })];
    case 'unban':
      return s.banned ? [ev('UserUnbanned', { userId, reason: c.reason, actor: c.actor })] : [];
    case 'erase':
      return [ev('UserErased', { userId, actor: c.actor, reason: c.reason ?? null })];
    case 'revokeCredentials':
      return [ev('CredentialsRevoked', { userId, reason: c.reason })];
    case 'linkIdentity':
      if (s.identities.some((i) => i.issuer === c.issuer && i.subject === c.subject)) return [];
      return [ev('ExternalIdentityLinked', { userId, issuer: c.issuer, subject: c.subject, via: c.via })];
    case 'unlinkIdentity':
      if (!s.identities.some((i) => i.issuer === c.issuer && i.subject === c.subject)) throw new NotFound('identity not linked');
      return [ev('ExternalIdentityUnlinked', { userId, issuer: c.issuer, subject: c.subject })];
    case 'recordProvisioned':
      return [ev('AccountProvisioned', { userId, issuer: c.issuer, subject: c.subject, policy: c.policy })];
    case 'assignRoles': {
      const same = s.roles.length === c.roles.length && s.roles.every((r, i) => r === c.roles[i]) && (c.tenant ?? s.tenant) === s.tenant;
      return same ? [] : [ev('RolesAssigned', { userId, roles: c.roles, tenant: c.tenant ?? null, source: c.source })];
    }
  }
}

/**
 * The events of a user stream that void every credential from a login before them. An unban or
 * an enable is not among the reversals: it restores the account, never the old sessions and grants.
 */
export const CREDENTIAL_REVOKING_EVENTS: ReadonlySet<string> = new Set([
  'CredentialsRevoked',
  'UserBanned',
  'AccountDisabled',
  'UserErased',
]);

/** Log position of the last credential-voiding event in a user's stream (0 when none). */
export function lastRevocationPosition(events: readonly { type: string; position: number }[]): number {
  let last = 0;
  for (const e of events) if (CREDENTIAL_REVOKING_EVENTS.has(e.type) && e.position > last) last = e.position;
  return last;
}

export const userDecider: Decider<UserCommand, UserState, UserEvent> = { initialState, evolve, decide };
