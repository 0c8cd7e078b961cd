import { describe, it, expect } from 'vitest';
import { sealEvents, type NewEvent, type RecordedEvent } from '../../../core/index.js';
import { DeliveriesView } from '../../../plugins/ban-broadcast/deliveries-view.js';
import '../../../plugins/ban-broadcast/events.js';
import { memoryReadDb } from '../../helpers/read-db.js';

let position = 0;
function ev(type: string, data: Record<string, unknown>, when = '2026-03-01T10:00:00.000Z'): RecordedEvent {
  const [e] = sealEvents(`s-${position}`, [{ type, data } as NewEvent], -1, '', ++position, () => new Date(when));
  return e;
}
const queued = (ban: string, userId: string, siteIds: string[]) =>
  ev('BanBroadcastQueued', { banEventId: ban, banStreamId: `user-${userId}`, banPosition: position, userId, kind: 'user.banned', siteIds });
const failed = (ban: string, siteId: string, next: string | null) =>
  ev('BanNotificationFailed', { banEventId: ban, siteId, attempt: 1, status: 500, error: 'http_500', durationMs: 5, nextAttemptAt: next });
const delivered = (ban: string, siteId: string) =>
  ev('BanNotificationDelivered', { banEventId: ban, siteId, attempt: 1, status: 204, durationMs: 5, format: 'standard' });

describe('DeliveriesView (persisted)', () => {
  it('keeps per-site delivery state, lists newest first with a limit and per user, and reads unfinished work through its partial index', () => {
    const db = memoryReadDb();
    const view = new DeliveriesView();
    view.open(db);
    for (const e of [
      queued('b1', 'u1', ['a', 'b', 'c']),
      delivered('b1', 'a'),
      failed('b1', 'b', '2026-03-01T10:05:00.000Z'),
      ev('BanNotificationAbandoned', { banEventId: 'b1', siteId: 'c', attempts: 1, reason: 'http_403' }),
      queued('b2', 'u2', ['a']),
      queued('b3', 'u1', ['b']),
      delivered('b3', 'b'),
      delivered('nope', 'a'), // an outcome of a broadcast the view never saw is ignored
      ev('WebhookEndpointDisabled', { siteId: 'c', url: 'https://c.example/hook', banEventId: 'b1', status: 410 }),
    ])
      view.apply(e);

    expect(view.list().map((b) => b.banEventId)).toEqual(['b3', 'b2', 'b1']);
    expect(view.list(undefined, 2).map((b) => b.banEventId)).toEqual(['b3', 'b2']);
    expect(view.list('u1').map((b) => b.banEventId)).toEqual(['b3', 'b1']);
    expect(view.list('nobody')).toEqual([]);
    const b1 = view.list('u1')[1];
    expect(b1).toMatchObject({ userId: 'u1', kind: 'user.banned', queuedAt: '2026-03-01T10:00:00.000Z' });
    expect([...b1.sites].map(([s, d]) => [s, d.status])).toEqual([
      ['a', 'delivered'],
      ['b', 'retrying'],
      ['c', 'abandoned'],
    ]);
    expect(b1.sites.get('b')!.nextAttemptAt).toBe(Date.parse('2026-03-01T10:05:00.000Z'));

    const unfinished = view
      .unfinished()
      .map((u) => `${u.banEventId}/${u.siteId}:${u.state.status}`)
      .sort();
    expect(unfinished).toEqual(['b1/b:retrying', 'b2/a:pending']);
    expect([...view.disabledEndpoints()]).toEqual([['c', 'https://c.example/hook']]);

    // The reactor's start-up read goes through the partial index, not a scan of every delivery ever.
    // (better-sqlite3's statement keeps its SQL in `source`.)
    const sql = (view as unknown as { st: { unfinished: { source: string } } }).st.unfinished.source;
    const plan = db.prepare<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`).all();
    expect(plan.map((p) => p.detail).join(' ')).toContain('USING INDEX ban_deliveries_unfinished');

    // A requeue makes a finished delivery unfinished again.
    view.apply(ev('BanNotificationRequeued', { banEventId: 'b3', siteId: 'b', actor: 'admin:x' }));
    expect(
      view
        .unfinished()
        .map((u) => `${u.banEventId}/${u.siteId}`)
        .sort(),
    ).toEqual(['b1/b', 'b2/a', 'b3/b']);
  });
});
