import type { KnownEvent, Projection, RecordedEvent } from '../../core/index.js';

/** Failure reasons that count towards the lockout (a refusal because of the lockout itself does not). */
const COUNTED = new Set(['bad_password', 'unknown_user', 'no_password', 'bad_totp', 'totp_replayed', 'bad_recovery_code']);

/**
 * Per-account lockout as a read model over `LoginFailed`: `maxFailures` failures within
 * `windowSeconds` lock the login name for `lockSeconds` after the last one; a successful password
 * login clears it. Keyed by the login-name hash the password IdP records as `subject`, so an unknown
 * name locks exactly like a known one (no user enumeration through the lockout either).
 */
export class LockoutView implements Projection {
  readonly name = 'password-login.lockout';
  checkpoint = 0;
  private readonly failures = new Map<string, number[]>();
  private readonly keyOfUser = new Map<string, string>();

  constructor(
    private readonly issuer: string,
    private readonly settings: { maxFailures: number; windowSeconds: number; lockSeconds: number },
  ) {}

  reset(): void {
    this.failures.clear();
    this.keyOfUser.clear();
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    if (e.type === 'LoginFailed' && e.data.issuer === this.issuer && e.data.subject && COUNTED.has(e.data.reason)) {
      const key = e.data.subject;
      const list = this.failures.get(key) ?? [];
      list.push(Date.parse(e.metadata.recordedAt));
      if (list.length > this.settings.maxFailures) list.splice(0, list.length - this.settings.maxFailures);
      this.failures.set(key, list);
      if (e.data.userId) this.keyOfUser.set(e.data.userId, key);
    } else if (e.type === 'LoginSucceeded' && e.data.issuer === this.issuer) {
      const key = this.keyOfUser.get(e.data.userId);
      if (key) this.failures.delete(key);
    }
  }

  /** When the lock on this login name ends, or null when it is not locked. */
  lockedUntil(key: string, now: Date): Date | null {
    const list = this.failures.get(key);
    if (!list || list.length < this.settings.maxFailures) return null;
    const t = now.getTime();
    const recent = list.filter((x) => x > t - this.settings.windowSeconds * 1000);
    if (recent.length < this.settings.maxFailures) return null;
    const until = recent[recent.length - 1] + this.settings.lockSeconds * 1000;
    return until > t ? new Date(until) : null;
  }
}
