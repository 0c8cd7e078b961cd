import { describe, it, expect } from 'vitest';
import { checkSiteHandoffConfig } from '../../../plugins/hmac-handoff/outbound.js';
import type { SiteConfig } from '../../../config/types.js';
import { start } from './setup.js';

const site = (over: Partial<SiteConfig> & { handoff?: SiteConfig['handoff'] }): SiteConfig => ({
  id: 's',
  name: 'S',
  returnUrls: ['https://s.test/cb'],
  handoff: { keys: [{ kid: 'k', secret: 'sixteen-bytes-secret' }] },
  ...over,
});

describe('hmac-handoff configuration', () => {
  it('refuses site settings that could never be handed off to safely', () => {
    expect(() => checkSiteHandoffConfig([site({})])).not.toThrow();
    expect(() =>
      checkSiteHandoffConfig([site({ handoff: { keys: [{ kid: 'k', secret: 'sixteen-bytes-secret' }], fields: ['userId', 'email'] } })]),
    ).not.toThrow();
    expect(() => checkSiteHandoffConfig([site({ returnUrls: ['https://s.test/cb#frag'] })])).toThrow(/fragment/);
    expect(() => checkSiteHandoffConfig([site({ returnUrls: ['https://s.test/cb?sig=1'] })])).toThrow(/handoff parameter sig/);
    expect(() => checkSiteHandoffConfig([site({ returnUrls: ['/relative'] })])).toThrow(/absolute/);
    expect(() => checkSiteHandoffConfig([site({ returnUrls: ['javascript:alert(1)'] })])).toThrow(/http/);
    expect(() => checkSiteHandoffConfig([site({ handoff: { keys: [] } })])).toThrow(/at least one key/);
    expect(() => checkSiteHandoffConfig([site({ handoff: { keys: [{ kid: 'k', secret: 'short' }] } })])).toThrow(/16 bytes/);
    expect(() =>
      checkSiteHandoffConfig([site({ handoff: { keys: [{ kid: 'k', secret: 'sixteen-bytes-secret' }], fields: ['password'] } })]),
    ).toThrow(/not one of/);
  });

  it('fails the boot on a bad plugin config with the path of the bad value', async () => {
    await expect(start(undefined, { servers: [{ id: 'Bad Id', name: 'x', secret: 'y'.repeat(32) }] })).rejects.toThrow(/servers\[0\]\.id/);
    await expect(start(undefined, { servers: [{ id: 'ok', name: 'x', secret: 'too-short' }] })).rejects.toThrow(/servers\[0\]/);
  });
});

describe('HandoffRejected recording', () => {
  it('is capped per second so unauthenticated junk cannot flood the log, and resumes the next second', async () => {
    const { MemoryEventStore } = await import('../../../adapters/event-stores/memory.js');
    const { ManualClock } = await import('../../../core/index.js');
    const { Rejections } = await import('../../../plugins/hmac-handoff/rejections.js');
    const store = new MemoryEventStore();
    const clock = new ManualClock();
    const warnings: unknown[] = [];
    const logger = {
      warn: (o: unknown) => warnings.push(o),
      info() {},
      error() {},
      debug() {},
      child() {
        return logger;
      },
    } as never;
    const r = new Rejections(store, logger, clock, 5);
    for (let i = 0; i < 20; i++) await r.record('inbound', `t${i}`, 'bad_signature', '10.0.0.1');
    expect(await store.headPosition()).toBe(5);
    clock.advance(1000);
    await r.record('outbound', 'site<script>', 'unknown_site', null);
    expect(await store.headPosition()).toBe(6);
    expect(warnings).toHaveLength(1);
    const last = (await store.readAll()).at(-1)!;
    expect(last.data).toEqual({ direction: 'outbound', target: 'site?script?', reason: 'unknown_site', ip: null });
  });
});
