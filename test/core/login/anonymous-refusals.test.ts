import { describe, it, expect } from 'vitest';
import { AnonymousRefusals, type LoginService, type Logger } from '../../../core/index.js';

function world(fail = false) {
  const recorded: { reason: string; ip?: string }[] = [];
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  let now = Date.parse('2026-12-01T00:00:00.000Z');
  const login = {
    async recordFailure(f: { reason: string }, ctx: { ip?: string }) {
      if (fail) throw new Error('store down');
      recorded.push({ reason: f.reason, ip: ctx.ip });
      return recorded.length;
    },
  } as unknown as LoginService;
  const logger = { warn: (obj: Record<string, unknown>, msg: string) => warnings.push({ obj, msg }) } as unknown as Logger;
  const clock = { now: () => new Date(now) };
  return { recorded, warnings, login, logger, clock, tick: (ms: number) => (now += ms) };
}

describe('AnonymousRefusals', () => {
  it('records up to the cap per second, then only counts, and says how many it dropped once the second is over', async () => {
    const w = world();
    const r = new AnonymousRefusals(w.login, w.logger, w.clock, 3, 'probe refusals');
    for (let i = 0; i < 5; i++) await r.record({ issuer: 'x', reason: `r${i}` }, { ip: '192.0.2.1' });
    expect(w.recorded.map((x) => x.reason)).toEqual(['r0', 'r1', 'r2']);
    expect(w.warnings).toEqual([]);
    w.tick(1000);
    await r.record({ issuer: 'x', reason: 'next' }, { ip: '192.0.2.1' });
    expect(w.recorded.at(-1)).toEqual({ reason: 'next', ip: '192.0.2.1' });
    expect(w.warnings).toEqual([{ obj: { dropped: 2 }, msg: 'probe refusals not recorded as LoginFailed (rate cap)' }]);
  });

  it('never throws when the store cannot record: the refusal stays a refusal, not a 500', async () => {
    const w = world(true);
    const r = new AnonymousRefusals(w.login, w.logger, w.clock, 3, 'probe refusals');
    await expect(r.record({ issuer: 'x', reason: 'bad' }, {})).resolves.toBeUndefined();
    expect(w.warnings[0]?.msg).toBe('could not record one of the probe refusals');
  });
});
