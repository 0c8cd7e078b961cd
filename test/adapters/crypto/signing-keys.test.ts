import { describe, it, expect } from 'vitest';
import { createHmac, createPrivateKey, type KeyObject } from 'node:crypto';
import * as jose from 'jose';
import { ManualClock } from '../../../core/index.js';
import { MemoryEventStore } from '../../../adapters/event-stores/memory.js';
import { SigningKeys, SIGNING_KEYS_STREAM, type SigningKeySettings } from '../../../adapters/crypto/signing-keys.js';
import { signCompact } from '../../../adapters/crypto/jws.js';
import { encryptDir, decryptDir } from '../../../adapters/crypto/key-cipher.js';

const cipherKey = Buffer.alloc(32, 7);

async function ring(settings: Partial<SigningKeySettings> = {}, store = new MemoryEventStore(), clock = new ManualClock()) {
  const keys = new SigningKeys(store, cipherKey, clock, { alg: 'ES256', rotateAfterSeconds: 86400, overlapSeconds: 3600, ...settings });
  await keys.ensure();
  return { keys, store, clock };
}

async function privateKeyOf(store: MemoryEventStore, kid: string): Promise<KeyObject> {
  const e = (await store.readStream(SIGNING_KEYS_STREAM)).find((x) => (x.data as { kid: string }).kid === kid)!;
  // jose opens the stored JWE with the derived key: the format is standard, not home-made.
  const { plaintext } = await jose.compactDecrypt((e.data as { privateJwe: string }).privateJwe, cipherKey);
  return createPrivateKey({ key: JSON.parse(new TextDecoder().decode(plaintext)), format: 'jwk' });
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = () => Math.floor(Date.parse('2026-01-01T00:00:00Z') / 1000);

describe('signing keys', () => {
  for (const alg of ['ES256', 'RS256'] as const) {
    it(`${alg}: jose verifies node-signed tokens against the JWKS, and node verifies jose-signed ones`, async () => {
      const { keys, store } = await ring({ alg });
      const token = keys.signSync({ sub: 'u1', iat: now(), exp: now() + 60, aud: 'api' }, { typ: 'at+jwt' });
      const jwks = jose.createLocalJWKSet(await keys.jwks());
      const out = await jose.jwtVerify(token, jwks, { currentDate: new Date(now() * 1000), audience: 'api', typ: 'at+jwt' });
      expect(out.payload.sub).toBe('u1');
      expect(out.protectedHeader).toEqual({ alg, typ: 'at+jwt', kid: keys.current().kid });

      const priv = await privateKeyOf(store, keys.current().kid);
      const byJose = await new jose.SignJWT({ sub: 'u2', iat: now(), exp: now() + 60 })
        .setProtectedHeader({ alg, typ: 'at+jwt', kid: keys.current().kid })
        .sign(priv);
      expect((await keys.verify(byJose, { typ: 'at+jwt' })).sub).toBe('u2');
    });
  }

  it('RS256: node and jose produce byte-identical JWS (deterministic signatures)', async () => {
    const { keys, store } = await ring({ alg: 'RS256' });
    const { kid } = keys.current();
    const payload = { iss: 'https://b', sub: 'u', iat: 1, exp: 2 };
    const byJose = await new jose.SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
      .sign(await privateKeyOf(store, kid));
    expect(keys.signSync(payload, { typ: 'JWT' })).toBe(byJose);
  });

  it('refuses alg none, HS256 keyed with the public key, an unknown kid and a key of someone else', async () => {
    const { keys } = await ring();
    const { kid } = keys.current();
    const body = b64({ sub: 'x', exp: now() + 60 });
    expect(() => keys.verifySync(`${b64({ alg: 'none', kid })}.${body}.`)).toThrow(expect.objectContaining({ reason: 'alg_not_allowed' }));
    expect(() => keys.verifySync(`${b64({ alg: 'none', kid })}.${body}.AAAA`)).toThrow(
      expect.objectContaining({ reason: 'alg_not_allowed' }),
    );
    const pubJwk = JSON.stringify((await keys.jwks()).keys[0]);
    const hsInput = `${b64({ alg: 'HS256', kid })}.${body}`;
    const hs = `${hsInput}.${createHmac('sha256', pubJwk).update(hsInput).digest('base64url')}`;
    expect(() => keys.verifySync(hs)).toThrow(expect.objectContaining({ reason: 'alg_not_allowed' }));
    // ES256 header on the same kid but HS-style signature bytes: still a bad signature, never accepted.
    expect(() => keys.verifySync(`${b64({ alg: 'ES256', kid })}.${body}.${Buffer.alloc(64).toString('base64url')}`)).toThrow(
      expect.objectContaining({ reason: 'bad_signature' }),
    );
    const other = await ring();
    const foreign = other.keys.signSync({ sub: 'x' }, { typ: 'JWT' });
    expect(() => keys.verifySync(foreign)).toThrow(expect.objectContaining({ reason: 'unknown_kid' }));
    // Someone else's key presented under our kid: the signature fails.
    const forged = signCompact({ sub: 'x' }, { alg: 'ES256', typ: 'JWT', kid }, await privateKeyOf(other.store, other.keys.current().kid));
    expect(() => keys.verifySync(forged)).toThrow(expect.objectContaining({ reason: 'bad_signature' }));
    expect(() => keys.verifySync('not.a.token!')).toThrow(expect.objectContaining({ reason: 'malformed' }));
    expect(() => keys.verifySync('a'.repeat(20000))).toThrow(expect.objectContaining({ reason: 'malformed' }));
  });

  it('checks exp, nbf, audience, issuer and typ', async () => {
    const { keys } = await ring();
    const t = (p: Record<string, unknown>, typ = 'at+jwt') => keys.signSync(p, { typ });
    expect(() => keys.verifySync(t({ exp: now() - 1 }))).toThrow(expect.objectContaining({ reason: 'expired' }));
    expect(() => keys.verifySync(t({ nbf: now() + 120 }))).toThrow(expect.objectContaining({ reason: 'not_yet_valid' }));
    expect(() => keys.verifySync(t({ iat: now() + 3600 }))).toThrow(expect.objectContaining({ reason: 'not_yet_valid' }));
    expect(() => keys.verifySync(t({ aud: 'a' }), { audience: 'b' })).toThrow(expect.objectContaining({ reason: 'wrong_audience' }));
    expect(() => keys.verifySync(t({ iss: 'x' }), { issuer: 'y' })).toThrow(expect.objectContaining({ reason: 'wrong_issuer' }));
    expect(() => keys.verifySync(t({}, 'JWT'), { typ: 'at+jwt' })).toThrow(expect.objectContaining({ reason: 'wrong_typ' }));
    expect(
      keys.verifySync(t({ aud: ['a', 'b'], iss: 'y', exp: now() + 1 }, 'application/at+jwt'), { audience: 'b', issuer: 'y', typ: 'at+jwt' })
        .iss,
    ).toBe('y');
  });

  it('rotates with overlap: the old key stays published and verifying, then disappears', async () => {
    const { keys, clock } = await ring({ rotateAfterSeconds: 100, overlapSeconds: 50 });
    const first = keys.current().kid;
    const old = keys.signSync({ sub: 'u' }, { typ: 'JWT' });
    clock.advance(99_000);
    await keys.ensure();
    expect(keys.current().kid).toBe(first);
    clock.advance(2_000);
    await keys.ensure();
    const second = keys.current().kid;
    expect(second).not.toBe(first);
    expect((await keys.jwks()).keys.map((k) => k.kid)).toEqual([second, first]);
    expect(keys.verifySync(old).sub).toBe('u');
    clock.advance(51_000);
    expect(keys.jwksSync().keys.map((k) => k.kid)).toEqual([second]);
    expect(() => keys.verifySync(old)).toThrow(expect.objectContaining({ reason: 'unknown_kid' }));
  });

  it('stores private keys only encrypted, and a replay (restart) yields the same key ring', async () => {
    const { keys, store, clock } = await ring();
    const events = await store.readStream(SIGNING_KEYS_STREAM);
    expect(events).toHaveLength(1);
    expect(JSON.stringify(events[0].data)).not.toMatch(/"d":/);
    const replayed = new SigningKeys(store, cipherKey, clock);
    for (const e of events) replayed.apply(e);
    await replayed.ensure();
    expect(replayed.current()).toEqual(keys.current());
    expect(replayed.verifySync(keys.signSync({ a: 1 }, { typ: 'JWT' })).a).toBe(1);
    const wrongKey = new SigningKeys(store, Buffer.alloc(32, 9), clock);
    for (const e of events) wrongKey.apply(e);
    expect(() => wrongKey.current()).toThrow(/no signing key/);
    expect(wrongKey.verifySync(keys.signSync({ a: 2 }, { typ: 'JWT' })).a).toBe(2);
  });

  it('two nodes racing to create the first key end up with one key', async () => {
    const store = new MemoryEventStore();
    const clock = new ManualClock();
    const a = new SigningKeys(store, cipherKey, clock);
    const b = new SigningKeys(store, cipherKey, clock);
    await Promise.all([a.ensure(), b.ensure()]);
    expect(await store.readStream(SIGNING_KEYS_STREAM)).toHaveLength(1);
    expect(a.current()).toEqual(b.current());
  });

  it('the key cipher is a standard dir/A256GCM JWE and detects tampering', async () => {
    const jwe = encryptDir('secret', cipherKey, 'k1');
    expect(new TextDecoder().decode((await jose.compactDecrypt(jwe, cipherKey)).plaintext)).toBe('secret');
    const joseJwe = await new jose.CompactEncrypt(new TextEncoder().encode('other'))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .encrypt(cipherKey);
    expect(decryptDir(joseJwe, cipherKey)).toBe('other');
    const parts = jwe.split('.');
    parts[3] = Buffer.from('SECRET').toString('base64url');
    expect(() => decryptDir(parts.join('.'), cipherKey)).toThrow();
  });
});
