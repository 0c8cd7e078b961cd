import { hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The master key every internal key is derived from (HKDF-SHA256 with a purpose label), so one
 * secret in config protects login requests, encrypted TOTP secrets and signing keys at rest.
 * Absent from config: generated once into `<dataDir>/master.key` (mode 0600) and reused.
 */
export function loadMasterKey(configured: string | undefined, dataDir: string | null): Buffer {
  if (configured) {
    const b = /^[0-9a-f]{64,}$/i.test(configured) ? Buffer.from(configured, 'hex') : Buffer.from(configured, 'utf8');
    if (b.length < 32) throw new Error('secrets.masterKey: must be at least 32 bytes');
    return b;
  }
  if (!dataDir) return randomBytes(32);
  const file = path.join(dataDir, 'master.key');
  if (fs.existsSync(file)) return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'hex');
  fs.mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  fs.writeFileSync(file, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}

export class Keys {
  constructor(private readonly master: Buffer) {}
  /** A 32-byte key for one purpose (`login-request`, `totp-secret`, `signing-keys`, ...). */
  derive(purpose: string, length = 32): Buffer {
    return Buffer.from(hkdfSync('sha256', this.master, Buffer.alloc(0), `broker:${purpose}`, length));
  }
}
