import { describe, expect, it } from 'vitest';
import { ChainVerifier, sealEvents, type NewEvent, type RecordedEvent } from '../../../core/index.js';
import {
  EsdbMappingError,
  esdbEventId,
  exactExpectedRevision,
  fromEsdbCurrentRevision,
  fromEsdbEvent,
  isSystemStream,
  toEsdbEvent,
  toEsdbExpectedRevision,
  type EsdbRecorded,
} from '../../../adapters/event-stores/eventstoredb-mapping.js';

const ev = (n: number, extra: Partial<NewEvent> = {}): NewEvent =>
  ({ type: 'AccountEnabled', data: { userId: `u${n}` }, ...extra }) as NewEvent;

/** What the server hands back for an event written with toEsdbEvent: JSON in, JSON out. */
function asStored(e: RecordedEvent, commit: bigint, prepare: bigint): EsdbRecorded {
  const d = toEsdbEvent(e);
  return {
    streamId: e.streamId,
    id: d.id,
    revision: BigInt(e.revision),
    type: d.type,
    data: JSON.parse(JSON.stringify(d.data)),
    metadata: JSON.parse(JSON.stringify(d.metadata)),
    position: { commit, prepare },
  };
}

describe('EventStoreDB mapping', () => {
  it('round-trips the envelope through esdb data + metadata and the chain still verifies', () => {
    const a = sealEvents('user-1', [ev(1, { metadata: { actor: 'admin:1', causationId: 'c0', ip: '::1' } }), ev(2), ev(3)], -1, '', 0);
    // One multi-event append: the commit position repeats, the prepare positions increase.
    const back = a.map((e, i) => fromEsdbEvent(asStored(e, 1000n, 1000n + BigInt(i) * 180n))!);
    expect(back.map((e) => ({ ...e, position: 0 }))).toEqual(a);
    expect(back.map((e) => e.position)).toEqual([1000, 1180, 1360]);
    const v = new ChainVerifier();
    for (const e of back) v.check(e);
    expect(v.breaks).toEqual([]);
  });

  it('carries correlation and causation in EventStoreDB conventions too', () => {
    const [e] = sealEvents('s', [ev(1, { metadata: { correlationId: 'corr', causationId: 'cause' } })], -1, '', 0);
    const d = toEsdbEvent(e);
    expect(d.contentType).toBe('application/json');
    expect(d.metadata).toMatchObject({
      $correlationId: 'corr',
      $causationId: 'cause',
      broker: { revision: 0, prevHash: '', hash: e.hash },
    });
  });

  it('gives a non-UUID id a stable UUID and restores the original on read', () => {
    const [e] = sealEvents('s', [ev(1, { id: 'imported-42' })], -1, '', 0);
    const d = toEsdbEvent(e);
    expect(d.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(esdbEventId('imported-42')).toBe(d.id); // stable: a retried append is idempotent
    expect(esdbEventId('imported-43')).not.toBe(d.id);
    expect(fromEsdbEvent(asStored(e, 5n, 5n))!.id).toBe('imported-42');
    const uuid = '0191b2c3-0000-7000-8000-000000000001';
    expect(esdbEventId(uuid)).toBe(uuid);
    expect(toEsdbEvent({ ...e, id: uuid }).metadata.broker.id).toBeUndefined();
  });

  it('ignores system streams and events the broker did not write', () => {
    const [e] = sealEvents('s', [ev(1)], -1, '', 0);
    expect(isSystemStream('$stats-127.0.0.1:2113')).toBe(true);
    expect(fromEsdbEvent({ ...asStored(e, 1n, 1n), streamId: '$settings' })).toBeNull();
    expect(fromEsdbEvent({ ...asStored(e, 1n, 1n), metadata: { someoneElse: true } })).toBeNull();
    expect(fromEsdbEvent({ ...asStored(e, 1n, 1n), metadata: undefined })).toBeNull();
  });

  it('refuses an event whose esdb revision disagrees with the chained one', () => {
    const [e] = sealEvents('s', [ev(1)], -1, '', 0);
    expect(() => fromEsdbEvent({ ...asStored(e, 1n, 1n), revision: 3n })).toThrow(EsdbMappingError);
  });

  it('maps expected revisions both ways', () => {
    expect(toEsdbExpectedRevision(undefined)).toBe('any');
    expect(toEsdbExpectedRevision('any')).toBe('any');
    expect(toEsdbExpectedRevision('no_stream')).toBe('no_stream');
    expect(toEsdbExpectedRevision('stream_exists')).toBe('stream_exists');
    expect(toEsdbExpectedRevision(7)).toBe(7n);
    expect(exactExpectedRevision(-1)).toBe('no_stream');
    expect(exactExpectedRevision(0)).toBe(0n);
    expect(fromEsdbCurrentRevision('no_stream')).toBe(-1);
    expect(fromEsdbCurrentRevision(undefined)).toBe(-1);
    expect(fromEsdbCurrentRevision(12n)).toBe(12);
  });
});
