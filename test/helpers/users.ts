import { PasswordHasher } from '../../adapters/crypto/password-hasher.js';
import { TotpService } from '../../adapters/crypto/totp.js';
import { RecoveryCodes, generateRecoveryCodes } from '../../adapters/crypto/recovery-codes.js';
import type { Keys } from '../../adapters/kernel/master-key.js';
import { TOKENS } from '../../adapters/kernel/tokens.js';
import type { Broker } from '../../adapters/kernel/boot.js';
import { TEST_ARGON2 } from './broker.js';

/**
 * Creates a user with a password straight through the core (no HTTP, no self-registration needed),
 * optionally an admin and with TOTP enrolled. For tests of other plugins that need someone to log in
 * through `password-login` (see test/plugins/password-login/flows.ts for the HTTP side).
 */
export async function createPasswordUser(
  broker: Broker,
  o: { email: string; password: string; name?: string; admin?: boolean; totp?: boolean },
): Promise<{ userId: string; totpSecret: string | null; recoveryCodes: string[] }> {
  const meta = { actor: 'test' };
  const { userId } = await broker.users.register({ email: o.email, name: o.name ?? null, via: 'test' }, meta);
  let res = await broker.users.execute(
    userId,
    { type: 'setPassword', passwordHash: await new PasswordHasher(TEST_ARGON2).hash(o.password) },
    meta,
  );
  if (o.admin) res = await broker.users.execute(userId, { type: 'grantAdmin' }, meta);
  let totpSecret: string | null = null;
  let recoveryCodes: string[] = [];
  if (o.totp) {
    const keys = broker.container.get<Keys>(TOKENS.Keys);
    const totp = new TotpService(broker.store, keys.derive('totp-secret'), broker.clock, 'test');
    totpSecret = totp.newSecret();
    recoveryCodes = generateRecoveryCodes();
    res = await broker.users.execute(
      userId,
      {
        type: 'enrollTotp',
        secretCipher: totp.seal(totpSecret),
        recoveryCodeHashes: recoveryCodes.map((c) => new RecoveryCodes(keys.derive('recovery-code')).hash(c)),
      },
      meta,
    );
  }
  await broker.projections.waitFor(res.position);
  return { userId, totpSecret, recoveryCodes };
}
