import { describe, it, expect } from 'vitest';
import { opened } from '../../helpers/read-db.js';
import { AuditView, sealEvents, type NewEvent, type RecordedEvent } from '../../../core/index.js';

const at = (iso: string) => () => new Date(iso);
let position = 0;
function recorded(streamId: string, events: NewEvent[], when: string): RecordedEvent[] {
  const sealed = sealEvents(streamId, events, -1, '', position + 1, at(when));
  position += sealed.length;
  // Through JSON, as a store hands them over: every string is a fresh copy.
  return sealed.map((e) => JSON.parse(JSON.stringify(e)) as RecordedEvent);
}

describe('AuditView', () => {
  it('records every event that names a user, with its own type, time, actor and stream, whether or not they repeat', () => {
    const audit = opened(new AuditView());
    const events = [
      ...recorded(
        'user-u1',
        [
          { type: 'UserRegistered', data: { userId: 'u1', email: null, name: 'A' }, metadata: { actor: 'system' } },
          { type: 'PasswordSet', data: { userId: 'u1', passwordHash: 'h' }, metadata: { actor: 'system' } },
        ],
        '2026-01-01T00:00:00.000Z',
      ),
      ...recorded(
        'session-s1',
        [{ type: 'LoginSucceeded', data: { userId: 'u1', sessionId: 's1' }, metadata: { actor: 'user:u1' } }],
        '2026-01-01T00:00:01.000Z',
      ),
      ...recorded(
        'site-forum',
        [{ type: 'SiteRegistered', data: { siteId: 'forum' }, metadata: { actor: 'admin:1' } }],
        '2026-01-01T00:00:02.000Z',
      ),
      ...recorded(
        'user-u2',
        [{ type: 'UserRegistered', data: { userId: 'u2', email: null, name: 'B' }, metadata: { actor: 'system' } }],
        '2026-01-01T00:00:02.000Z',
      ),
      ...recorded(
        'user-u1',
        [{ type: 'UserBanned', data: { userId: 'u1', reason: 'r', actor: 'admin:1' }, metadata: { actor: 'admin:1' } }],
        '2026-01-01T00:00:03.000Z',
      ),
    ];
    for (const e of events) audit.apply(e);

    expect(audit.timeline('u1')).toEqual([
      { position: 1, type: 'UserRegistered', recordedAt: '2026-01-01T00:00:00.000Z', actor: 'system', streamId: 'user-u1' },
      { position: 2, type: 'PasswordSet', recordedAt: '2026-01-01T00:00:00.000Z', actor: 'system', streamId: 'user-u1' },
      { position: 3, type: 'LoginSucceeded', recordedAt: '2026-01-01T00:00:01.000Z', actor: 'user:u1', streamId: 'session-s1' },
      { position: 6, type: 'UserBanned', recordedAt: '2026-01-01T00:00:03.000Z', actor: 'admin:1', streamId: 'user-u1' },
    ]);
    expect(audit.timeline('u2')).toEqual([
      { position: 5, type: 'UserRegistered', recordedAt: '2026-01-01T00:00:02.000Z', actor: 'system', streamId: 'user-u2' },
    ]);
    expect(audit.timeline('nobody')).toEqual([]);
  });
});
