import type { RecordedEvent, KnownEvent } from '../events/envelope.js';
import type { Projection } from './projection.js';

export interface UserView {
  userId: string;
  email: string | null;
  name: string | null;
  admin: boolean;
  disabled: boolean;
  banned: { reason: string; actor: string; at: string } | null;
  erased: boolean;
  hasPassword: boolean;
  hasTotp: boolean;
  roles: string[];
  tenant: string | null;
  identities: { issuer: string; subject: string }[];
  createdAt: string;
  lastLoginAt: string | null;
}

/** Users by id and by email. */
export class UsersView implements Projection {
  readonly name = 'users';
  checkpoint = 0;
  readonly byId = new Map<string, UserView>();
  readonly byEmail = new Map<string, string>();

  reset(): void {
    this.byId.clear();
    this.byEmail.clear();
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    if (e.type === 'UserRegistered') {
      const d = e.data;
      this.byId.set(d.userId, {
        userId: d.userId,
        email: d.email,
        name: d.name,
        admin: !!d.admin,
        disabled: false,
        banned: null,
        erased: false,
        hasPassword: false,
        hasTotp: false,
        roles: [],
        tenant: null,
        identities: [],
        createdAt: e.metadata.recordedAt,
        lastLoginAt: null,
      });
      if (d.email) this.byEmail.set(d.email, d.userId);
      return;
    }
    const userId = (e.data as { userId?: string }).userId;
    if (!userId) return;
    const u = this.byId.get(userId);
    if (!u) return;
    switch (e.type) {
      case 'UserProfileUpdated':
        if (e.data.email !== undefined) {
          if (u.email && this.byEmail.get(u.email) === userId) this.byEmail.delete(u.email);
          u.email = e.data.email;
          if (u.email) this.byEmail.set(u.email, userId);
        }
        if (e.data.name !== undefined) u.name = e.data.name;
        break;
      case 'PasswordSet':
        u.hasPassword = true;
        break;
      case 'TotpEnrolled':
        u.hasTotp = true;
        break;
      case 'TotpRemoved':
        u.hasTotp = false;
        break;
      case 'AdminGranted':
        u.admin = true;
        break;
      case 'AdminRevoked':
        u.admin = false;
        break;
      case 'AccountDisabled':
        u.disabled = true;
        break;
      case 'AccountEnabled':
        u.disabled = false;
        break;
      case 'UserBanned':
        u.banned = { reason: e.data.reason, actor: e.data.actor, at: e.metadata.recordedAt };
        break;
      case 'UserUnbanned':
        u.banned = null;
        break;
      case 'UserErased':
        if (u.email && this.byEmail.get(u.email) === userId) this.byEmail.delete(u.email);
        Object.assign(u, { email: null, name: null, erased: true, hasPassword: false, hasTotp: false, identities: [], roles: [] });
        break;
      case 'ExternalIdentityLinked':
        u.identities.push({ issuer: e.data.issuer, subject: e.data.subject });
        break;
      case 'ExternalIdentityUnlinked':
        u.identities = u.identities.filter((i) => !(i.issuer === e.data.issuer && i.subject === e.data.subject));
        break;
      case 'RolesAssigned':
        u.roles = e.data.roles.slice();
        u.tenant = e.data.tenant ?? u.tenant;
        break;
      case 'LoginSucceeded':
        u.lastLoginAt = e.metadata.recordedAt;
        break;
    }
  }

  get(userId: string): UserView | undefined {
    return this.byId.get(userId);
  }

  findByEmail(email: string): UserView | undefined {
    const id = this.byEmail.get(email.trim().toLowerCase());
    return id ? this.byId.get(id) : undefined;
  }

  /** Case-insensitive substring search over email, name and id; newest first. */
  search(q: string, limit = 50, offset = 0): { total: number; users: UserView[] } {
    const needle = q.trim().toLowerCase();
    const all = [...this.byId.values()].filter(
      (u) =>
        !u.erased &&
        (!needle || u.userId.includes(needle) || (u.email ?? '').includes(needle) || (u.name ?? '').toLowerCase().includes(needle)),
    );
    all.reverse();
    return { total: all.length, users: all.slice(offset, offset + limit) };
  }

  /** Whether the user may hold a session right now (exists, not banned, disabled or erased). */
  isActive(userId: string): boolean {
    const u = this.byId.get(userId);
    return !!u && !u.banned && !u.disabled && !u.erased;
  }
}
