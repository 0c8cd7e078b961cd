import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { verifyHandoff, type VerifyOptions } from '../../../plugins/hmac-handoff/verify.js';
import type { Browser } from './browser.js';
import { BASE, LEGACY_KEYS, NONCE, SITE_A_KEYS, SITE_B_KEYS, eventsOf, loggedIn, ssoUrl, start, until, type Running } from './setup.js';

const A_RETURN = 'https://site-a.test/callback';

describe('outbound handoff refuses bad input', () => {
  let r: Running;
  let browser: Browser;
  let userId: string;
  beforeAll(async () => {
    r = await start();
    ({ browser, userId } = await loggedIn(r));
  });
  afterAll(async () => r.broker.stop());

  /** A fresh signed redirect to site A from the logged-in browser. */
  const issue = async (): Promise<URLSearchParams> => {
    const res = await browser.get(ssoUrl('site-a', A_RETURN));
    expect(res.status).toBe(303);
    expect(res.location!.startsWith(`${A_RETURN}?`)).toBe(true);
    return new URL(res.location!).searchParams;
  };
  const opts = (over: Partial<VerifyOptions> = {}): VerifyOptions => {
    const seen = new Set<string>();
    return {
      now: Date.now(),
      expectedSite: 'site-a',
      expectedNonce: NONCE,
      seenNonce: (n) => (seen.has(n) ? true : (seen.add(n), false)),
      ...over,
    };
  };
  const refusedWith = async (params: URLSearchParams, code: string, o: VerifyOptions = opts(), keys = SITE_A_KEYS) =>
    expect(verifyHandoff(params, keys, o)).rejects.toMatchObject({ name: 'HandoffVerificationError', code });

  it('accepts an untouched handoff signed with the first key, and verifies during rotation overlap', async () => {
    const p = await issue();
    expect(p.get('kid')).toBe('a-2026');
    expect((await verifyHandoff(p, SITE_A_KEYS, opts())).sub).toBe(userId);
    // The site still holding only the old key cannot verify (unknown key id), which is why sites add the new key first.
    await refusedWith(p, 'unknown_kid', opts(), [SITE_A_KEYS[1]]);
  });

  it('refuses a tampered signature or a tampered value', async () => {
    const p = await issue();
    const sig = p.get('sig')!;
    const q = new URLSearchParams(p);
    q.set('sig', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1));
    await refusedWith(q, 'bad_signature');
    const e = new URLSearchParams(p);
    e.set('email', 'admin@site-a.test');
    await refusedWith(e, 'bad_signature');
    const s = new URLSearchParams(p);
    s.set('sub', 'someone-else');
    await refusedWith(s, 'bad_signature');
  });

  it('refuses a value moved from one field to another, or split differently across two', async () => {
    const p = await issue();
    const swapped = new URLSearchParams(p);
    swapped.set('email', p.get('name')!);
    swapped.set('name', p.get('email')!);
    await refusedWith(swapped, 'bad_signature');
    // The same bytes concatenated: "Ada" + "" vs "Ad" + "a" — length-prefixing tells them apart.
    const split = new URLSearchParams(p);
    split.set('name', 'Ad');
    split.set('email', `a${p.get('email')}`);
    await refusedWith(split, 'bad_signature');
    // Dropping a field from the signed list.
    const fewer = new URLSearchParams(p);
    fewer.set('fields', 'email');
    await refusedWith(fewer, 'bad_signature');
  });

  it('refuses an expired handoff and one issued in the future', async () => {
    const p = await issue();
    const exp = Number(p.get('exp')) * 1000;
    await refusedWith(p, 'expired', opts({ now: exp + 31_000 }));
    await refusedWith(p, 'not_yet_valid', opts({ now: Number(p.get('iat')) * 1000 - 60_000 }));
  });

  it('refuses a replayed broker nonce and a site nonce from another attempt', async () => {
    const p = await issue();
    const o = opts();
    await verifyHandoff(p, SITE_A_KEYS, o);
    await refusedWith(p, 'replayed', o);
    await refusedWith(p, 'nonce_mismatch', opts({ expectedNonce: 'another-attempt-nonce-000' }));
    // No pending login in this browser (no nonce cookie): refused, never a skipped check (login CSRF).
    const fresh = await issue();
    await refusedWith(fresh, 'nonce_mismatch', opts({ expectedNonce: undefined }));
    await refusedWith(fresh, 'nonce_mismatch', opts({ expectedNonce: '' }));
  });

  it('refuses a handoff meant for another site (audience), even under a shared key', async () => {
    const p = await issue();
    await refusedWith(p, 'wrong_audience', opts({ expectedSite: 'site-b' }));
    const b = await browser.get(ssoUrl('site-b', 'https://site-b.test/cb'));
    await refusedWith(new URL(b.location!).searchParams, 'unknown_kid', opts());
    await refusedWith(new URL(b.location!).searchParams, 'wrong_audience', opts(), [...SITE_A_KEYS, ...SITE_B_KEYS]);
  });

  it('refuses unknown key ids, v1 signatures on a v2 site, repeated, oversized and malformed parameters', async () => {
    const p = await issue();
    const k = new URLSearchParams(p);
    k.set('kid', 'nope');
    await refusedWith(k, 'unknown_kid');
    const legacy = await browser.get(ssoUrl('legacy', 'https://legacy.test/sso'));
    const v1 = new URL(legacy.location!).searchParams;
    expect(v1.get('signature')).toMatch(/^[0-9a-f]{40}$/);
    await refusedWith(v1, 'unsupported_version');
    await refusedWith(v1, 'unsupported_version', opts(), LEGACY_KEYS);
    const v3 = new URLSearchParams(p);
    v3.set('handoff', 'v3');
    await refusedWith(v3, 'unsupported_version');
    const dup = new URLSearchParams(p);
    dup.append('email', 'evil@x.test');
    await refusedWith(dup, 'malformed');
    const big = new URLSearchParams(p);
    big.set('name', 'x'.repeat(5000));
    await refusedWith(big, 'malformed');
    const badSig = new URLSearchParams(p);
    badSig.set('sig', 'short');
    await refusedWith(badSig, 'malformed');
    const missing = new URLSearchParams(p);
    missing.delete('aud');
    await refusedWith(missing, 'malformed');
    const badFields = new URLSearchParams(p);
    badFields.set('fields', 'email,sig');
    await refusedWith(badFields, 'malformed');
    // A plain object with an array (how some frameworks parse a repeated parameter).
    await refusedWith(Object.assign(Object.fromEntries(p), { email: ['a', 'b'] }) as never, 'malformed');
  });

  it('answers an unknown site, a site without handoff, a return_to off the list and a bad nonce with an error page', async () => {
    const cases: [string, number, string][] = [
      [ssoUrl('nope', A_RETURN), 404, 'unknown_site'],
      [ssoUrl('nohandoff', 'https://x.test/'), 404, 'unknown_site'],
      [`${BASE}/sso/${'%3Cscript%3E'}?return_to=x&nonce=${NONCE}`, 400, 'malformed_site'],
      [ssoUrl('site-a', 'https://evil.test/callback'), 400, 'return_to_not_allowed'],
      [ssoUrl('site-a', `${A_RETURN}x`), 400, 'return_to_not_allowed'],
      [ssoUrl('site-a', `${A_RETURN}/../../evil`), 400, 'return_to_not_allowed'],
      [ssoUrl('site-a', `${A_RETURN}?next=https://evil.test`), 400, 'return_to_not_allowed'],
      [ssoUrl('site-a', 'https://site-a.test/' + 'a'.repeat(3000)), 400, 'malformed_return_to'],
      [`${BASE}/sso/site-a?nonce=${NONCE}`, 400, 'malformed_return_to'],
      [`${ssoUrl('site-a', A_RETURN)}&return_to=${encodeURIComponent('https://evil.test/')}`, 400, 'malformed_return_to'],
      [ssoUrl('site-a', A_RETURN, null), 400, 'malformed_nonce'],
      [ssoUrl('site-a', A_RETURN, 'short'), 400, 'malformed_nonce'],
      [ssoUrl('site-a', A_RETURN, 'has spaces and <tags> 0123456789'), 400, 'malformed_nonce'],
      [ssoUrl('site-a', A_RETURN, 'x'.repeat(129)), 400, 'malformed_nonce'],
    ];
    for (const [url, status, reason] of cases) {
      const res = await browser.get(url);
      expect(res.status, url).toBe(status);
      expect(res.location, url).toBeNull();
      expect(await res.text(), url).toContain('<h1>');
      const rejected = await until(async () => (await eventsOf(r.broker, 'HandoffRejected')).find((e) => e.reason === reason) ?? undefined);
      expect(rejected.direction).toBe('outbound');
    }
  });

  it('answers absurd URLs with a 4xx, never a 500', async () => {
    for (const url of [
      `${BASE}/sso/${'s'.repeat(600)}?return_to=x&nonce=${NONCE}`,
      `${BASE}/sso/site-a?return_to=%E0%A4%A&nonce=${NONCE}`,
      `${BASE}/sso/site-a?return_to[a]=1&nonce[]=2`,
      `${BASE}/sso/?return_to=x`,
    ]) {
      const res = await browser.get(url);
      expect(res.status, url).toBeGreaterThanOrEqual(400);
      expect(res.status, url).toBeLessThan(500);
    }
  });

  it('re-checks the site at resume: a return URL removed from config while the user logged in is refused', async () => {
    const r2 = await start();
    try {
      const { Browser } = await import('./browser.js');
      const b = new Browser({ [BASE]: r2.url });
      const toLogin = await b.get(ssoUrl('site-a', A_RETURN));
      expect(toLogin.location).toContain('/login?lr=');
      const lr = new URL(toLogin.location!).searchParams.get('lr')!;
      r2.broker.sites.get('site-a')!.returnUrls.length = 0; // the operator removed the URL meanwhile
      const { postInbound } = await import('./setup.js');
      const handed = await postInbound(r2.url, { sub: 'ext-9', lr });
      const out = await b.follow(String(handed.json.url), [BASE, r2.url]);
      expect(out.status).toBe(400);
      expect(out.body).toContain('Invalid return address');
    } finally {
      await r2.broker.stop();
    }
  });

  it('never hands off a banned user: the session ends, and resume refuses even a stale session view', async () => {
    const r3 = await start();
    try {
      const { browser: b, userId: u } = await loggedIn(r3, 'ext-banned');
      const session = r3.broker.read.sessions.forUser(u)[0];
      const res = await r3.broker.users.execute(u, { type: 'ban', reason: 'spam', actor: 'admin:t' }, { actor: 'admin:t' });
      await r3.broker.projections.waitFor(res.position);
      const after = await b.get(ssoUrl('site-a', A_RETURN));
      expect(after.location).toContain('/login?lr='); // no session any more: no signed redirect
      const protocol = r3.broker.login.protocols.get('hmac-handoff')!;
      const action = await protocol.resume(
        { protocol: 'hmac-handoff', params: { site: 'site-a', return_to: A_RETURN, nonce: NONCE }, iat: 0, exp: 0, jti: 'x' },
        session,
      );
      expect(action).toMatchObject({ kind: 'html', status: 403 });
      expect((await eventsOf(r3.broker, 'HandoffIssued')).length).toBe(0);
    } finally {
      await r3.broker.stop();
    }
  });
});
