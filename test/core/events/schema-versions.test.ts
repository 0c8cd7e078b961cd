import { describe, it, expect } from 'vitest';
import {
  ProjectionEngine,
  defineEvent,
  foldStream,
  upcast,
  userDecider,
  sealEvents,
  type NewEvent,
  type Projection,
  type RecordedEvent,
} from '../../../core/index.js';

// A test-only event type at version 3 whose shape changed twice.
defineEvent('TestWidgetRenamed', 3, {
  1: (d) => ({ ...(d as object), label: (d as { name: string }).name }),
  2: (d) => {
    const { label, ...rest } = d as { label: string; name?: string };
    if (label === 'boom') throw new Error('cannot upcast');
    return { ...rest, title: label.toUpperCase() };
  },
});
defineEvent('TestGadgetMoved', 2); // version 1 has no upcaster: unreadable

const rec = (type: string, version: number, data: unknown, position = 1): RecordedEvent => ({
  ...sealEvents('t', [{ type, version, data } as unknown as NewEvent], -1, '', position)[0],
});

describe('upcasting', () => {
  it('upcasts step by step to the current version without touching the stored event', () => {
    const stored = rec('TestWidgetRenamed', 1, { name: 'knob' });
    const r = upcast(stored);
    expect(r).toMatchObject({ status: 'ok', event: { version: 3, data: { name: 'knob', title: 'KNOB' } } });
    expect(stored.data).toEqual({ name: 'knob' });
    expect(stored.version).toBe(1);
    expect(upcast(rec('TestWidgetRenamed', 2, { label: 'x' }))).toMatchObject({ status: 'ok', event: { data: { title: 'X' } } });
    const current = rec('TestWidgetRenamed', 3, { title: 'T' });
    expect(upcast(current)).toEqual({ status: 'ok', event: current });
  });

  it('reports unknown types, newer versions, missing and failing upcasters instead of throwing', () => {
    expect(upcast(rec('NobodyDefinedThis', 1, {}))).toMatchObject({ status: 'unknown', reason: 'unknown_type' });
    expect(upcast(rec('TestWidgetRenamed', 4, {}))).toMatchObject({ status: 'unknown', reason: 'unknown_version' });
    expect(upcast(rec('TestGadgetMoved', 1, {}))).toMatchObject({ status: 'unknown', reason: 'unknown_version' });
    expect(upcast(rec('TestWidgetRenamed', 2, { label: 'boom' }))).toMatchObject({ status: 'unknown', reason: 'upcast_failed' });
  });

  it('the projection engine skips and reports unreadable events, keeps applying the rest, advances its checkpoint', () => {
    const seen: string[] = [];
    const p: Projection = {
      name: 'p',
      checkpoint: 0,
      reset: () => {},
      apply: (e) => void seen.push(`${e.type}:${JSON.stringify(e.data)}`),
    };
    const engine = new ProjectionEngine();
    engine.add(p);
    const reported: string[] = [];
    engine.onUnknown = (r) => reported.push(`${r.position}:${r.type}:${r.reason}`);
    engine.apply(rec('TestWidgetRenamed', 1, { name: 'a' }, 1));
    engine.apply(rec('NobodyDefinedThis', 1, {}, 2));
    engine.apply(rec('TestWidgetRenamed', 9, {}, 3));
    engine.apply(rec('AccountEnabled', 1, { userId: 'u' }, 4));
    expect(seen).toEqual(['TestWidgetRenamed:{"name":"a","title":"A"}', 'AccountEnabled:{"userId":"u"}']);
    expect(reported).toEqual(['2:NobodyDefinedThis:unknown_type', '3:TestWidgetRenamed:unknown_version']);
    expect(engine.unknown).toHaveLength(2);
    expect(p.checkpoint).toBe(4);
    expect(engine.position).toBe(4);
  });

  it('a decider fold skips events it cannot read', () => {
    const history = sealEvents(
      'user-1',
      [
        { type: 'UserRegistered', data: { userId: '1', email: null, name: 'A' } },
        { type: 'FromAnUnloadedPlugin', data: { x: 1 } } as unknown as NewEvent,
        { type: 'AccountDisabled', data: { userId: '1', reason: null } },
      ],
      -1,
      '',
      1,
    );
    const s = foldStream(userDecider, history);
    expect(s).toMatchObject({ exists: true, disabled: true, name: 'A' });
  });
});
