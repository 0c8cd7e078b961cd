import type { ReadModels, SessionView } from '../../plugin/index.js';

/** Who is behind a gateway request, however they authenticated. */
export interface GatewayIdentity {
  userId: string;
  email: string | null;
  roles: string[];
  tenant: string | null;
  admin: boolean;
  via: 'session' | 'broker-token' | 'upstream-token';
  /** Broker session id (session or a token bound to one): the internal JWT cache key. */
  sessionId: string | null;
}

export function identityFromSession(read: ReadModels, s: SessionView): GatewayIdentity | null {
  const u = read.users.get(s.userId);
  if (!u) return null;
  return { userId: s.userId, email: u.email, roles: s.roles, tenant: s.tenant, admin: u.admin, via: 'session', sessionId: s.sessionId };
}

export function identityFromUser(
  read: ReadModels,
  userId: string,
  via: GatewayIdentity['via'],
  extra: { roles?: string[]; tenant?: string | null; sessionId?: string | null } = {},
): GatewayIdentity | null {
  const u = read.users.get(userId);
  if (!u || !read.users.isActive(userId)) return null;
  return {
    userId,
    email: u.email,
    roles: extra.roles ?? u.roles,
    tenant: extra.tenant ?? u.tenant,
    admin: u.admin,
    via,
    sessionId: extra.sessionId ?? null,
  };
}
