import { describe, it, expect } from 'vitest';
import { decide, nextAttemptAt, retryAfterMs } from '../../../plugins/ban-broadcast/delivery-policy.js';
import { AddressGuard } from '../../../plugins/ban-broadcast/address-guard.js';

const resp = (status: number, retryAfter: string | null = null) => ({
  kind: 'response' as const,
  status,
  retryAfter,
  body: '',
  durationMs: 1,
});

describe('delivery policy', () => {
  it('classifies each answer', () => {
    expect(decide(resp(200))).toEqual({ outcome: 'delivered' });
    expect(decide(resp(202))).toEqual({ outcome: 'delivered' });
    expect(decide(resp(410))).toEqual({ outcome: 'gone' });
    expect(decide(resp(503, '7'))).toEqual({ outcome: 'retry', error: 'http_503', notBeforeMs: 7000 });
    expect(decide(resp(429))).toMatchObject({ outcome: 'retry', error: 'http_429' });
    expect(decide(resp(301))).toEqual({ outcome: 'permanent', error: 'redirect_not_followed_301' });
    expect(decide(resp(404))).toEqual({ outcome: 'permanent', error: 'http_404' });
    expect(decide({ kind: 'network', error: 'timeout', durationMs: 5 })).toMatchObject({ outcome: 'retry', error: 'timeout' });
    expect(decide({ kind: 'refused', error: 'private_address_refused', durationMs: 0 })).toMatchObject({ outcome: 'permanent' });
  });

  it('reads Retry-After as seconds or an HTTP date, and ignores garbage', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('soon', now)).toBe(0);
    expect(retryAfterMs(null, now)).toBe(0);
  });

  it('backs off exponentially with jitter, honours a longer Retry-After, and stops at the horizon', () => {
    const s = { initialDelayMs: 1000, maxDelayMs: 8000, horizonMs: 60_000 };
    expect(nextAttemptAt(s, 1, 0, 0, 0, () => 0)).toBe(500);
    expect(nextAttemptAt(s, 1, 0, 0, 0, () => 1)).toBe(1000);
    expect(nextAttemptAt(s, 3, 0, 0, 0, () => 1)).toBe(4000);
    expect(nextAttemptAt(s, 10, 0, 0, 0, () => 1)).toBe(8000);
    expect(nextAttemptAt(s, 1, 0, 0, 30_000, () => 1)).toBe(30_000);
    expect(nextAttemptAt(s, 5, 59_000, 0, 0, () => 1)).toBeNull();
  });
});

describe('address guard', () => {
  it('refuses private, loopback, link-local and mapped addresses unless allowed', () => {
    const g = new AddressGuard(['127.0.0.1', '10.1.0.0/16']);
    for (const ip of [
      '10.0.0.1',
      '192.168.1.1',
      '172.16.0.1',
      '169.254.169.254',
      '127.0.0.2',
      '::1',
      'fd00::1',
      '::ffff:192.168.0.1',
      '0.0.0.0',
    ])
      expect(g.permits(ip), ip).toBe(false);
    for (const ip of ['127.0.0.1', '10.1.2.3', '93.184.216.34', '2606:4700::1111', '::ffff:127.0.0.1'])
      expect(g.permits(ip), ip).toBe(true);
  });
});
