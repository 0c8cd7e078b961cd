import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ChainVerifier, canonicalJson, eventHash, sealEvents, type NewEvent, type RecordedEvent } from '../../../core/index.js';

/** The plain definition canonicalJson must match byte for byte (hashes already in logs depend on it). */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return '[' + value.map((v) => (v === undefined ? 'null' : reference(v))).join(',') + ']';
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + reference(obj[k])).join(',') + '}';
}

const seal = (streamId: string, n: number, data: (i: number) => unknown = (i) => ({ userId: `u${i}` })): RecordedEvent[] =>
  sealEvents(
    streamId,
    Array.from({ length: n }, (_, i) => ({ type: 'AccountEnabled', data: data(i) }) as NewEvent),
    -1,
    '',
    1,
  );

describe('canonicalJson', () => {
  it('matches the reference encoding for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => canonicalJson(v) === reference(v)),
      { numRuns: 500 },
    );
  });

  it('ignores key order, drops undefined, is whitespace-free and round-trips', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x'], c: null }, u: undefined })).toBe('{"a":{"c":null,"d":[1,"x"]},"b":1}');
    expect(canonicalJson({ a: { c: null, d: [1, 'x'] }, b: 1 })).toBe(canonicalJson({ b: 1, a: { d: [1, 'x'], c: null } }));
    fc.assert(fc.property(fc.jsonValue(), (v) => canonicalJson(JSON.parse(canonicalJson(v))) === canonicalJson(v)));
  });

  it('refuses non-finite numbers', () => {
    expect(() => canonicalJson({ x: NaN })).toThrow(TypeError);
    expect(() => canonicalJson([Infinity])).toThrow(TypeError);
  });
});

describe('hash chain', () => {
  it('chains each event to the previous one of its stream; the global position is not hashed', () => {
    const events = seal('s', 3);
    expect(events[0].prevHash).toBe('');
    expect(events[1].prevHash).toBe(events[0].hash);
    expect(events[2].prevHash).toBe(events[1].hash);
    expect(events[0].hash).toMatch(/^[0-9a-f]{64}$/);
    expect(eventHash({ ...events[1], position: 999 } as RecordedEvent)).toBe(events[1].hash);
  });

  it('ChainVerifier accepts an intact log of interleaved streams', () => {
    const a = seal('a', 4);
    const b = seal('b', 3);
    const log = [a[0], b[0], a[1], a[2], b[1], b[2], a[3]].map((e, i) => ({ ...e, position: i + 1 }));
    const v = new ChainVerifier();
    for (const e of log) expect(v.check(e)).toBeNull();
    expect(v.checked).toBe(7);
    expect(v.breaks).toEqual([]);
  });

  it('detects an edited payload, edited metadata, a forged hash and a missing event', () => {
    const cases: [string, (es: RecordedEvent[]) => RecordedEvent[], string, number][] = [
      ['data', (es) => es.map((e, i) => (i === 1 ? { ...e, data: { userId: 'mallory' } } : e)), 'hash_mismatch', 1],
      [
        'metadata',
        (es) => es.map((e, i) => (i === 2 ? { ...e, metadata: { ...e.metadata, actor: 'admin:evil' } } : e)),
        'hash_mismatch',
        2,
      ],
      // Recomputing the edited event's own hash does not help: the next event's prevHash breaks.
      [
        'rehashed',
        (es) => es.map((e, i) => (i === 1 ? ((x) => ({ ...x, hash: eventHash(x) }))({ ...e, data: { userId: 'mallory' } }) : e)),
        'prev_hash_mismatch',
        2,
      ],
      ['deleted', (es) => es.filter((_, i) => i !== 1), 'revision_gap', 2],
    ];
    for (const [name, tamper, problem, revision] of cases) {
      const v = new ChainVerifier();
      for (const e of tamper(seal('s', 4))) v.check(e);
      expect(v.breaks, name).toHaveLength(1);
      expect(v.breaks[0], name).toMatchObject({ streamId: 's', problem, revision });
    }
  });
});
