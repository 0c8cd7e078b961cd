import { randomBytes } from 'node:crypto';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { client } from '../../helpers/cookie-jar.js';
import { startBroker, TEST_ARGON2, type TestBroker } from '../../helpers/broker.js';
import { createPasswordUser } from '../../helpers/users.js';
import { RecoveryCodes, generateRecoveryCodes, legacyRecoveryCodeHash } from '../../../adapters/crypto/recovery-codes.js';
import { TotpService } from '../../../adapters/crypto/totp.js';
import type { Keys } from '../../../adapters/kernel/master-key.js';
import { TOKENS } from '../../../adapters/kernel/tokens.js';
import { enrollTotp, passwordStep, register, totpStep } from './flows.js';

const PW = 'correct horse battery';

/** Recovery codes are stored as keyed hashes; codes stored as bare SHA-256 before still work. */
describe('recovery codes at rest', () => {
  let t: TestBroker;
  beforeAll(async () => {
    t = await startBroker({ plugins: [{ name: 'password-login', config: { argon2: TEST_ARGON2, selfRegistration: true } }] });
  });
  afterAll(async () => t.stop());

  const enrolledHashes = async (userId: string) =>
    (await t.broker.store.readStream(`user-${userId}`))
      .filter((e) => e.type === 'TotpEnrolled')
      .map((e) => (e.data as { recoveryCodeHashes: string[] }).recoveryCodeHashes)[0];

  /** Password then recovery code in a fresh browser; true when it ends signed in. */
  const loginWithRecovery = async (email: string, code: string) => {
    const c = client(t.url);
    const step1 = await passwordStep(c, email, PW);
    expect(step1.body).toContain('Second factor');
    const r = await totpStep(c, step1.body, code);
    return r.res.status === 200 && new URL(r.url).pathname === '/' && c.jar.cookies.has('broker_session');
  };

  it('records HMAC-SHA256 hashes under a key derived from the master key, never the searchable SHA-256', async () => {
    const c = client(t.url);
    const reg = await register(c, 'ann@example.com', PW);
    expect(reg.res.status).toBe(200);
    const { codes } = await enrollTotp(c, t.clock);
    const userId = await t.broker.users.findByEmail('ann@example.com');
    const hashes = await enrolledHashes(userId!);
    expect(hashes).toHaveLength(10);
    for (const [i, h] of hashes.entries()) {
      expect(h).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
      expect(h).not.toContain(legacyRecoveryCodeHash(codes[i]));
    }
    const key = t.broker.container.get<Keys>(TOKENS.Keys).derive('recovery-code');
    expect(hashes[0]).toBe(new RecoveryCodes(key).hash(codes[0]));
    t.clock.advance(30_000);
    expect(await loginWithRecovery('ann@example.com', codes[0])).toBe(true);
    expect(await loginWithRecovery('ann@example.com', codes[0])).toBe(false); // once only
  });

  it('still accepts a code stored as bare SHA-256 before the change, once; a hash under another key is refused', async () => {
    const { userId } = await createPasswordUser(t.broker, { email: 'old@example.com', password: PW });
    const keys = t.broker.container.get<Keys>(TOKENS.Keys);
    const totp = new TotpService(t.broker.store, keys.derive('totp-secret'), t.broker.clock, 'test');
    const codes = generateRecoveryCodes();
    const foreign = new RecoveryCodes(randomBytes(32));
    // As the broker wrote TotpEnrolled before keyed hashing (and one entry keyed under a key this broker does not have).
    const hashes = [...codes.slice(0, 9).map(legacyRecoveryCodeHash), foreign.hash(codes[9])];
    const res = await t.broker.users.execute(
      userId,
      { type: 'enrollTotp', secretCipher: totp.seal(totp.newSecret()), recoveryCodeHashes: hashes },
      { actor: 'test' },
    );
    await t.broker.projections.waitFor(res.position);

    expect(await loginWithRecovery('old@example.com', codes[2])).toBe(true);
    expect(await loginWithRecovery('old@example.com', codes[2])).toBe(false);
    expect(await loginWithRecovery('old@example.com', codes[9])).toBe(false);
  });
});
