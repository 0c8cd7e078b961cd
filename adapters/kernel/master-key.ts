import { hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../config/errors.js';

/** The master key and where it came from, so every error about it names its source. */
export interface MasterKey {
  key: Buffer;
  /** `secrets.masterKey`, `/data/master.key`, or `generated (memory store)`. */
  source: string;
}

const MIN_BYTES = 32;
// Even length on purpose: Buffer.from(odd hex, 'hex') silently drops the last digit.
const HEX_FILE = /^(?:[0-9a-f]{2})+$/i;

/**
 * The master key every internal key is derived from (HKDF-SHA256 with a purpose label), so one
 * secret in config protects login requests, encrypted TOTP secrets and signing keys at rest.
 * Absent from config: generated once into `<dataDir>/master.key` (mode 0600) and reused.
 * Fails closed (ConfigError, exit 2): a key under 32 bytes would let every internal key be derived
 * from a guessable value, so an empty, short or garbled key stops the start instead of being used.
 */
export function loadMasterKey(configured: string | undefined, dataDir: string | null): MasterKey {
  if (configured !== undefined && configured !== null) {
    // 64+ hex digits are raw key bytes; anything else is a passphrase taken as its UTF-8 bytes.
    // (The test is unchanged from earlier releases so a configured key derives the same keys.)
    const b = /^[0-9a-f]{64,}$/i.test(configured) ? Buffer.from(configured, 'hex') : Buffer.from(configured, 'utf8');
    if (b.length < MIN_BYTES)
      throw new ConfigError(
        `secrets.masterKey: is ${b.length} bytes; it must be at least ${MIN_BYTES} (64 hex digits, or a passphrase of 32+ bytes)`,
      );
    return { key: b, source: 'secrets.masterKey' };
  }
  if (!dataDir) return { key: randomBytes(32), source: 'generated (memory store)' };
  const file = path.join(dataDir, 'master.key');
  let text: string | null = null;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new ConfigError(`${file}: cannot read the master key (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (text !== null) return { key: parseKeyFile(text, file), source: file };
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  fs.writeFileSync(file, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  return { key, source: file };
}

function parseKeyFile(text: string, file: string): Buffer {
  const hex = text.trim();
  if (hex === '')
    throw new ConfigError(
      `${file}: the master key file is empty; restore it from your backup (a new key cannot read the log's encrypted keys)`,
    );
  if (!HEX_FILE.test(hex))
    throw new ConfigError(`${file}: the master key file is not hex (expected an even number, ${2 * MIN_BYTES} or more, of hex digits)`);
  if (hex.length < 2 * MIN_BYTES)
    throw new ConfigError(
      `${file}: the master key is ${hex.length / 2} bytes; it must be at least ${MIN_BYTES} (${2 * MIN_BYTES} hex digits)`,
    );
  return Buffer.from(hex, 'hex');
}

export class Keys {
  readonly source: string;
  private readonly master: Buffer;
  constructor(master: Buffer | MasterKey) {
    const m = Buffer.isBuffer(master) ? { key: master, source: 'master key' } : master;
    if (m.key.length < MIN_BYTES) throw new ConfigError(`${m.source}: the master key must be at least ${MIN_BYTES} bytes`);
    this.master = m.key;
    this.source = m.source;
  }
  /** A 32-byte key for one purpose (`login-request`, `totp-secret`, `signing-keys`, ...). */
  derive(purpose: string, length = 32): Buffer {
    return Buffer.from(hkdfSync('sha256', this.master, Buffer.alloc(0), `broker:${purpose}`, length));
  }
}
