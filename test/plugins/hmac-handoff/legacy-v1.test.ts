import { createHmac } from 'node:crypto';
import { describe, it, expect, afterEach } from 'vitest';
import { ManualClock } from '../../../core/index.js';
import { legacyV1Signature, verifyHandoff } from '../../../plugins/hmac-handoff/verify.js';
import { LEGACY_KEYS, loggedIn, ssoUrl, start, type Running } from './setup.js';

/**
 * Seed 003: "the HMAC-SHA1 signature of the provided data + a pre shared key + the current time
 * (rounded to 5 minutes)". Written here independently of the plugin: key = the pre-shared key,
 * message = the user data in the configured order then the unix time floored to 300 s, hex digest.
 */
function seedSignature(key: string, data: string[], unixSeconds: number): string {
  const rounded = unixSeconds - (unixSeconds % 300);
  return createHmac('sha1', Buffer.from(key, 'utf8'))
    .update(Buffer.from(data.join('') + rounded.toString(10), 'utf8'))
    .digest('hex');
}

describe('legacy v1 handoff (seed 003 scheme, per-site opt-in)', () => {
  let r: Running | undefined;
  afterEach(async () => r?.broker.stop());

  it('matches a known-answer vector computed with openssl', () => {
    // printf '%s' 'user-1ada@x.testAda1767225600' | openssl dgst -sha1 -hmac 'legacy-preshared-key-xyz'
    const expected = '7b6265178d187eee89fcf414662f26a8408c9540';
    expect(legacyV1Signature('legacy-preshared-key-xyz', ['user-1', 'ada@x.test', 'Ada'], 1767225600 + 299)).toBe(expected);
    expect(seedSignature('legacy-preshared-key-xyz', ['user-1', 'ada@x.test', 'Ada'], 1767225600 + 12)).toBe(expected);
  });

  it('serves a v1 site exactly the seed scheme, accepted in the previous bucket at the boundary and not after', async () => {
    const clock = new ManualClock(Date.now());
    r = await start(undefined, {}, clock);
    const { browser, userId } = await loggedIn(r, 'ext-legacy', 'old@customer.test');
    // Issue 1 s before a 5-minute boundary.
    const now = Math.floor(clock.now().getTime() / 1000);
    clock.set(new Date((now - (now % 300) + 299) * 1000));
    const res = await browser.get(ssoUrl('legacy', 'https://legacy.test/sso', null)); // an old site sends no nonce
    expect(res.status).toBe(303);
    const p = new URL(res.location!).searchParams;
    expect([...p.keys()].sort()).toEqual(['email', 'name', 'signature', 'sub']);
    expect(p.get('sub')).toBe(userId);
    const issuedAt = Math.floor(clock.now().getTime() / 1000);
    expect(p.get('signature')).toBe(seedSignature(LEGACY_KEYS[0].secret, [userId, 'old@customer.test', 'Ada'], issuedAt));

    const legacy = { fields: ['email', 'name'] };
    const ok = await verifyHandoff(p, LEGACY_KEYS, { now: (issuedAt + 2) * 1000, expectedSite: 'legacy', legacyV1: legacy });
    expect(ok).toMatchObject({ version: 'v1', sub: userId, fields: { email: 'old@customer.test', name: 'Ada' } });
    // Documented weakness: replayable inside the window (no nonce) — the same URL verifies again.
    await expect(
      verifyHandoff(p, LEGACY_KEYS, { now: (issuedAt + 3) * 1000, expectedSite: 'legacy', legacyV1: legacy }),
    ).resolves.toBeTruthy();
    // Two buckets later it is refused.
    await expect(
      verifyHandoff(p, LEGACY_KEYS, { now: (issuedAt + 302) * 1000, expectedSite: 'legacy', legacyV1: legacy }),
    ).rejects.toMatchObject({ code: 'bad_signature' });
    const tampered = new URLSearchParams(p);
    tampered.set('email', 'admin@customer.test');
    await expect(
      verifyHandoff(tampered, LEGACY_KEYS, { now: (issuedAt + 2) * 1000, expectedSite: 'legacy', legacyV1: legacy }),
    ).rejects.toMatchObject({ code: 'bad_signature' });
  });
});
