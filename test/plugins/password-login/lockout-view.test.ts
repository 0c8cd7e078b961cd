import { describe, it, expect } from 'vitest';
import { sealEvents, type NewEvent, type RecordedEvent } from '../../../core/index.js';
import { LockoutView } from '../../../plugins/password-login/lockout-view.js';
import { memoryReadDb } from '../../helpers/read-db.js';

let position = 0;
function ev(type: string, data: Record<string, unknown>, atMs: number): RecordedEvent {
  const [e] = sealEvents(`s-${position}`, [{ type, data } as NewEvent], -1, '', ++position, () => new Date(atMs));
  return e;
}
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const settings = { maxFailures: 3, windowSeconds: 600, lockSeconds: 300 };
const failure = (key: string, atMs: number, userId: string | null = null, reason = 'bad_password') =>
  ev('LoginFailed', { userId, issuer: 'password', subject: key, reason }, atMs);
const rows = (db: ReturnType<typeof memoryReadDb>, table: string) =>
  db.prepare<{ n: number }>(`SELECT count(*) AS n FROM ${table}`).get()!.n;

describe('LockoutView (persisted)', () => {
  it('locks a name after maxFailures counted failures in the window, from the events’ times, and a password login clears it', () => {
    const db = memoryReadDb();
    const view = new LockoutView('password', settings);
    view.open(db);
    view.apply(failure('k1', T0, 'u1'));
    view.apply(failure('k1', T0 + 1000, 'u1', 'locked')); // not counted
    view.apply(failure('k1', T0 + 2000, 'u1'));
    view.apply(ev('LoginFailed', { userId: null, issuer: 'other-idp', subject: 'k1', reason: 'bad_password' }, T0 + 2500)); // another IdP
    expect(view.lockedUntil('k1', new Date(T0 + 3000))).toBeNull();
    view.apply(failure('k1', T0 + 3000, 'u1'));
    expect(view.lockedUntil('k1', new Date(T0 + 4000))?.getTime()).toBe(T0 + 3000 + 300_000);
    expect(view.lockedUntil('k1', new Date(T0 + 3000 + 300_000))).toBeNull();
    // Unknown names lock alike.
    for (let i = 0; i < 3; i++) view.apply(failure('ghost', T0 + i, null, 'unknown_user'));
    expect(view.lockedUntil('ghost', new Date(T0 + 10))).not.toBeNull();
    // The user's successful password login clears their name.
    view.apply(
      ev(
        'LoginSucceeded',
        { userId: 'u1', sessionId: 's', issuer: 'password', subject: 'u1', amr: ['pwd'], expiresAt: '', idleTimeoutSeconds: 60 },
        T0 + 5000,
      ),
    );
    expect(view.lockedUntil('k1', new Date(T0 + 6000))).toBeNull();
    expect(view.lockedUntil('ghost', new Date(T0 + 10))).not.toBeNull();
  });

  it('maintain drops names whose last failure left the window (and their users), without changing any answer', () => {
    const db = memoryReadDb();
    const view = new LockoutView('password', settings);
    view.open(db);
    for (let i = 0; i < 3; i++) view.apply(failure('old', T0 + i, 'u-old'));
    for (let i = 0; i < 3; i++) view.apply(failure('fresh', T0 + 500_000 + i, 'u-fresh'));
    const now = new Date(T0 + 601_000);
    const before = ['old', 'fresh'].map((k) => view.lockedUntil(k, now)?.getTime() ?? null);
    view.maintain(now);
    expect(rows(db, 'password_login_lockout')).toBe(1);
    expect(rows(db, 'password_login_lockout_users')).toBe(1);
    expect(['old', 'fresh'].map((k) => view.lockedUntil(k, now)?.getTime() ?? null)).toEqual(before);
    expect(before[1]).toBe(T0 + 500_002 + 300_000);
    // A new failure on a dropped name starts a fresh count, as the old ones no longer counted.
    view.apply(failure('old', T0 + 602_000, 'u-old'));
    expect(view.lockedUntil('old', new Date(T0 + 602_500))).toBeNull();
  });

  it('keeps maxFailures in its version, so a change of that setting rebuilds its rows from the log', () => {
    expect(new LockoutView('password', settings).version).not.toBe(new LockoutView('password', { ...settings, maxFailures: 4 }).version);
    expect(new LockoutView('password', settings).version).toBe(new LockoutView('password', { ...settings, lockSeconds: 1 }).version);
  });
});
