import { describe, it, expect } from 'vitest';
import { UsersView, SEARCH_COUNT_CAP, type RecordedEvent } from '../../../core/index.js';
import { opened } from '../../helpers/read-db.js';

let position = 0;
function ev(type: string, data: Record<string, unknown>): RecordedEvent {
  position++;
  return {
    id: `e${position}`,
    streamId: `user-${String(data.userId)}`,
    revision: 0,
    position,
    type,
    version: 1,
    data,
    metadata: { recordedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, position)).toISOString(), actor: 'test' },
    prevHash: '',
    hash: `h${position}`,
  } as unknown as RecordedEvent;
}

describe('UsersView (persisted)', () => {
  it('pages newest first by keyset, each page disjoint and complete, and counts without erased users', () => {
    const v = opened(new UsersView());
    for (let i = 0; i < 120; i++)
      v.apply(ev('UserRegistered', { userId: `u${String(i).padStart(3, '0')}`, email: `user${i}@example.com`, name: `Name ${i}` }));
    v.apply(ev('UserErased', { userId: 'u005' }));
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = v.list({ limit: 50, after });
      expect(page.total).toBe(119);
      seen.push(...page.users.map((u) => u.userId));
      if (!page.next) break;
      after = page.next;
    }
    expect(seen).toHaveLength(119);
    expect(new Set(seen).size).toBe(119);
    expect(seen[0]).toBe('u119');
    expect(seen).not.toContain('u005');
  });

  it('searches by email prefix, name prefix in any case, and id prefix; follows email changes and erasure', () => {
    const v = opened(new UsersView());
    v.apply(ev('UserRegistered', { userId: 'aaa1', email: 'alice@example.com', name: 'Alice Liddell' }));
    v.apply(ev('UserRegistered', { userId: 'bbb2', email: 'bob@example.com', name: 'Bob' }));
    v.apply(ev('UserRegistered', { userId: 'ccc3', email: 'carol@example.com', name: 'alfred' }));
    expect(v.list({ q: 'ali' }).users.map((u) => u.userId)).toEqual(['aaa1']);
    expect(v.list({ q: 'AL' }).users.map((u) => u.userId)).toEqual(['ccc3', 'aaa1']);
    expect(v.list({ q: 'bbb' }).users.map((u) => u.userId)).toEqual(['bbb2']);
    expect(v.list({ q: 'zzz' }).users).toEqual([]);
    v.apply(ev('UserProfileUpdated', { userId: 'bbb2', email: 'robert@example.com' }));
    expect(v.findByEmail('bob@example.com')).toBeUndefined();
    expect(v.findByEmail('Robert@example.com')?.userId).toBe('bbb2');
    expect(v.get('bbb2')?.email).toBe('robert@example.com');
    v.apply(ev('UserErased', { userId: 'aaa1' }));
    expect(v.list({ q: 'ali' }).users).toEqual([]);
    expect(v.get('aaa1')?.erased).toBe(true);
    expect(v.count()).toBe(2);
  });

  it('caps the count of a broad search instead of counting every match', () => {
    const v = opened(new UsersView());
    for (let i = 0; i < SEARCH_COUNT_CAP + 5; i++)
      v.apply(ev('UserRegistered', { userId: `x${i}`, email: `same${i}@example.com`, name: null }));
    const page = v.list({ q: 'same', limit: 10 });
    expect(page.total).toBe(SEARCH_COUNT_CAP);
    expect(page.totalCapped).toBe(true);
    expect(page.users).toHaveLength(10);
  });

  it('a cached user is never staler than its row: a ban applied after a read shows on the next read', () => {
    const v = opened(new UsersView());
    v.apply(ev('UserRegistered', { userId: 'u1', email: null, name: null }));
    expect(v.isActive('u1')).toBe(true);
    v.apply(ev('UserBanned', { userId: 'u1', reason: 'spam', actor: 'admin:1' }));
    expect(v.isActive('u1')).toBe(false);
    expect(v.isActive('nobody')).toBe(false);
    v.apply(ev('UserRegistered', { userId: 'nobody', email: null, name: null }));
    expect(v.isActive('nobody')).toBe(true);
  });
});

describe('UsersView filters (the console)', () => {
  it('filters by banned, disabled, admin and provider through their indexes, with keyset pages and a search inside', () => {
    const v = opened(new UsersView());
    for (let i = 0; i < 6; i++)
      v.apply(ev('UserRegistered', { userId: `f${i}`, email: `f${i}@example.com`, name: `F ${i}`, admin: i === 0 }));
    v.apply(ev('UserBanned', { userId: 'f1', reason: 'spam', actor: 'admin:f0' }));
    v.apply(ev('UserBanned', { userId: 'f2', reason: 'spam', actor: 'admin:f0' }));
    v.apply(ev('AccountDisabled', { userId: 'f3', reason: null }));
    v.apply(ev('PasswordSet', { userId: 'f4', passwordHash: 'x' }));
    v.apply(ev('ExternalIdentityLinked', { userId: 'f5', issuer: 'https://idp.example', subject: 's5' }));
    v.apply(ev('ExternalIdentityLinked', { userId: 'f4', issuer: 'https://idp.example', subject: 's4' }));
    const ids = (p: { users: { userId: string }[] }) => p.users.map((u) => u.userId);
    expect(ids(v.list({ filter: { banned: true } }))).toEqual(['f2', 'f1']);
    expect(ids(v.list({ filter: { disabled: true } }))).toEqual(['f3']);
    expect(ids(v.list({ filter: { admin: true } }))).toEqual(['f0']);
    expect(ids(v.list({ filter: { banned: false, disabled: false } }))).toEqual(['f5', 'f4', 'f0']);
    expect(ids(v.list({ filter: { provider: 'password' } }))).toEqual(['f4']);
    expect(ids(v.list({ filter: { provider: 'https://idp.example' } }))).toEqual(['f5', 'f4']);
    expect(v.providers()).toEqual(['https://idp.example', 'password']);
    const first = v.list({ filter: { banned: true }, limit: 1 });
    expect(ids(first)).toEqual(['f2']);
    expect(first.total).toBe(2);
    expect(ids(v.list({ filter: { banned: true }, limit: 1, after: first.next }))).toEqual(['f1']);
    expect(ids(v.list({ q: 'f1', filter: { banned: true } }))).toEqual(['f1']);
    // The indexes follow the state: unban, unlink and erase leave the filters.
    v.apply(ev('UserUnbanned', { userId: 'f2', reason: null, actor: 'admin:f0' }));
    v.apply(ev('ExternalIdentityUnlinked', { userId: 'f5', issuer: 'https://idp.example', subject: 's5' }));
    v.apply(ev('UserErased', { userId: 'f4', actor: 'admin:f0' }));
    expect(ids(v.list({ filter: { banned: true } }))).toEqual(['f1']);
    expect(ids(v.list({ filter: { provider: 'https://idp.example' } }))).toEqual([]);
    expect(ids(v.list({ filter: { provider: 'password' } }))).toEqual([]);
  });
});
