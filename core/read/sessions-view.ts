import type { RecordedEvent, KnownEvent } from '../events/envelope.js';
import type { Projection } from './projection.js';

export interface SessionView {
  sessionId: string;
  userId: string;
  issuer: string;
  subject: string;
  amr: string[];
  roles: string[];
  tenant: string | null;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  /** `lastSeenAt` and `expiresAt` as epoch milliseconds, so the per-request check parses no dates. */
  lastSeenAtMs: number;
  expiresAtMs: number;
  idleTimeoutSeconds: number;
  ip: string | null;
  userAgent: string | null;
}

/**
 * Live broker sessions, as a read model over the log, so every node sees the same sessions.
 * A ban, disable, erase or credential revocation drops the user's sessions the moment the event
 * is applied (and no later event brings them back).
 */
export class SessionsView implements Projection {
  readonly name = 'sessions';
  checkpoint = 0;
  readonly byId = new Map<string, SessionView>();
  readonly byUser = new Map<string, Set<string>>();

  reset(): void {
    this.byId.clear();
    this.byUser.clear();
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    switch (e.type) {
      case 'LoginSucceeded': {
        const d = e.data;
        this.byId.set(d.sessionId, {
          sessionId: d.sessionId,
          userId: d.userId,
          issuer: d.issuer,
          subject: d.subject,
          amr: d.amr,
          roles: d.roles ?? [],
          tenant: d.tenant ?? null,
          createdAt: e.metadata.recordedAt,
          lastSeenAt: e.metadata.recordedAt,
          expiresAt: d.expiresAt,
          lastSeenAtMs: Date.parse(e.metadata.recordedAt),
          expiresAtMs: Date.parse(d.expiresAt),
          idleTimeoutSeconds: d.idleTimeoutSeconds,
          ip: d.ip ?? null,
          userAgent: d.userAgent ?? null,
        });
        let set = this.byUser.get(d.userId);
        if (!set) this.byUser.set(d.userId, (set = new Set()));
        set.add(d.sessionId);
        break;
      }
      case 'SessionRefreshed': {
        const s = this.byId.get(e.data.sessionId);
        if (s) {
          s.lastSeenAt = e.metadata.recordedAt;
          s.lastSeenAtMs = Date.parse(e.metadata.recordedAt);
        }
        break;
      }
      case 'SessionEnded':
        this.drop(e.data.sessionId);
        break;
      case 'UserBanned':
      case 'AccountDisabled':
      case 'UserErased':
      case 'CredentialsRevoked':
        for (const id of [...(this.byUser.get(e.data.userId) ?? [])]) this.drop(id);
        break;
      case 'RolesAssigned':
        for (const id of this.byUser.get(e.data.userId) ?? []) {
          const s = this.byId.get(id)!;
          s.roles = e.data.roles.slice();
          s.tenant = e.data.tenant ?? s.tenant;
        }
        break;
    }
  }

  private drop(sessionId: string): void {
    const s = this.byId.get(sessionId);
    if (!s) return;
    this.byId.delete(sessionId);
    const set = this.byUser.get(s.userId);
    set?.delete(sessionId);
    if (set && set.size === 0) this.byUser.delete(s.userId);
  }

  forUser(userId: string): SessionView[] {
    return [...(this.byUser.get(userId) ?? [])].map((id) => this.byId.get(id)!).filter(Boolean);
  }
}
