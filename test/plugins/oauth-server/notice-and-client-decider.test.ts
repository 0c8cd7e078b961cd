// Given events, when command, then events (or error): back-channel logout notices and client records as Deciders.
import { describe, it, expect } from 'vitest';
import { NoticeRefused, noticeDecider, type NoticeEvent } from '../../../plugins/oauth-server/logout-notice.js';
import { clientRecordDecider } from '../../../plugins/oauth-server/client-sync.js';
import type { EventOf } from '../../../core/index.js';

const fold = <S, E>(d: { initialState(): S; evolve(s: S, e: E): S }, ...events: E[]): S =>
  events.reduce((s, e) => d.evolve(s, e), d.initialState());

describe('back-channel logout notice decider', () => {
  const notice = { clientId: 'app', userId: 'u-1', sessionId: 's-1', cause: 'SessionEnded' };
  const claimed: NoticeEvent = { type: 'BackChannelLogoutClaimed', data: notice };
  const delivered: NoticeEvent = { type: 'BackChannelLogoutDelivered', data: { clientId: 'app', attempts: 1 } };

  it('claim: once across nodes', () => {
    expect(noticeDecider.decide({ type: 'claim', notice }, fold(noticeDecider))).toEqual([claimed]);
    expect(() => noticeDecider.decide({ type: 'claim', notice }, fold(noticeDecider, claimed))).toThrow(NoticeRefused);
  });

  it('finish: once, and only after a claim', () => {
    expect(noticeDecider.decide({ type: 'finish', outcome: delivered as never }, fold(noticeDecider, claimed))).toEqual([delivered]);
    expect(noticeDecider.decide({ type: 'finish', outcome: delivered as never }, fold(noticeDecider, claimed, delivered))).toEqual([]);
    expect(() => noticeDecider.decide({ type: 'finish', outcome: delivered as never }, fold(noticeDecider))).toThrow(NoticeRefused);
  });
});

describe('client record decider', () => {
  type E = EventOf<'ClientRegistered'> | EventOf<'ClientUpdated'>;
  const record = { redirectUris: ['https://app.example/cb'], secretHash: 'h1' };
  const registered: E = { type: 'ClientRegistered', data: { ...record, clientId: 'app', name: 'App' } };
  const sync = (r: Record<string, unknown>) => ({ type: 'sync' as const, clientId: 'app', name: 'App', record: r });

  it('registers a new client, then records only the fields that changed, and nothing when none did', () => {
    expect(clientRecordDecider.decide(sync(record), fold(clientRecordDecider))).toEqual([registered]);
    expect(clientRecordDecider.decide(sync(record), fold(clientRecordDecider, registered as never))).toEqual([]);
    expect(clientRecordDecider.decide(sync({ ...record, secretHash: 'h2' }), fold(clientRecordDecider, registered as never))).toEqual([
      { type: 'ClientUpdated', data: { clientId: 'app', secretHash: 'h2' } },
    ]);
  });
});
