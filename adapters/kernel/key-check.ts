import type { Projection, RecordedEvent } from '../../core/index.js';
import { ConfigError } from '../../config/errors.js';
import { decryptDir } from '../crypto/key-cipher.js';
import type { SigningKeys } from '../crypto/signing-keys.js';
import type { Keys } from './master-key.js';

/**
 * Proves at start that the master key is the one the log was written with. A wrong key used to
 * be a warning: the broker then minted a fresh signing key and ran on, with every enrolled TOTP
 * secret unreadable. Now it stops the start (exit 2), naming the key's source.
 * Keeps one TOTP secret (the latest enrolled): every secret is under the same derived key, so one
 * that opens proves the key for all, and start-up memory does not grow with the users.
 */
export class MasterKeyCheck implements Projection {
  readonly name = 'master-key-check';
  // Live only: replaying the whole log at every start to find the last TOTP enrolment would undo
  // the persisted read models' flat start-up. The signing keys (read from their own stream, and
  // present in every log the broker has started on) carry the check at start; TOTP enrolments
  // seen while running are checked as they arrive.
  readonly replay = 'live' as const;
  checkpoint = 0;
  private lastTotp: { userId: string; cipher: string } | null = null;

  apply(e: RecordedEvent): void {
    if (e.type !== 'TotpEnrolled') return;
    const d = e.data as { userId: string; secretCipher: string };
    this.lastTotp = { userId: d.userId, cipher: d.secretCipher };
  }

  reset(): void {
    this.lastTotp = null;
  }

  /** Throws ConfigError when the log holds encrypted material this master key cannot open. */
  verify(keys: Keys, signingKeys: SigningKeys): void {
    const wrong = `is not the key this event log was written with; restore the right master key (from backup). The broker will not start with it`;
    const kids = signingKeys.undecryptable();
    if (kids.length) throw new ConfigError(`${keys.source}: cannot decrypt signing key ${kids[0]} in the event log: this master key ${wrong}`);
    if (!this.lastTotp) return;
    try {
      decryptDir(this.lastTotp.cipher, keys.derive('totp-secret'));
    } catch {
      throw new ConfigError(`${keys.source}: cannot decrypt the TOTP secret of user ${this.lastTotp.userId} in the event log: this master key ${wrong}`);
    }
  }
}
