import type { PersistedProjection, ReadDatabase, ReadStatement, RecordedEvent } from '../../core/index.js';
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
export class MasterKeyCheck implements PersistedProjection {
  readonly name = 'master-key-check';
  readonly version = 1;
  readonly tables = ['master_key_check'];
  // Persisted (one row), so the check needs no replay of the log at start.
  private put!: ReadStatement;
  private get!: ReadStatement<{ user_id: string; cipher: string }>;

  open(db: ReadDatabase): void {
    db.exec(`CREATE TABLE IF NOT EXISTS master_key_check (k INTEGER PRIMARY KEY, user_id TEXT NOT NULL, cipher TEXT NOT NULL)`);
    this.put = db.prepare(`INSERT OR REPLACE INTO master_key_check (k, user_id, cipher) VALUES (1, ?, ?)`);
    this.get = db.prepare(`SELECT user_id, cipher FROM master_key_check WHERE k = 1`);
  }

  apply(e: RecordedEvent): void {
    if (e.type !== 'TotpEnrolled') return;
    const d = e.data as { userId: string; secretCipher: string };
    this.put.run(d.userId, d.secretCipher);
  }

  private get lastTotp(): { userId: string; cipher: string } | null {
    const r = this.get.get();
    return r ? { userId: r.user_id, cipher: r.cipher } : null;
  }

  /** Throws ConfigError when the log holds encrypted material this master key cannot open. */
  verify(keys: Keys, signingKeys: SigningKeys): void {
    const wrong = `is not the key this event log was written with; restore the right master key (from backup). The broker will not start with it`;
    const kids = signingKeys.undecryptable();
    if (kids.length)
      throw new ConfigError(`${keys.source}: cannot decrypt signing key ${kids[0]} in the event log: this master key ${wrong}`);
    if (!this.lastTotp) return;
    try {
      decryptDir(this.lastTotp.cipher, keys.derive('totp-secret'));
    } catch {
      throw new ConfigError(
        `${keys.source}: cannot decrypt the TOTP secret of user ${this.lastTotp.userId} in the event log: this master key ${wrong}`,
      );
    }
  }
}
