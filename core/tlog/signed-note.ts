import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/**
 * C2SP signed-note (https://github.com/C2SP/C2SP/blob/main/signed-note.md) with Ed25519 keys:
 * a note is its text (UTF-8, ending in a newline), a blank line, then one line per signature:
 * "— <key name> <base64(key ID || signature)>". The key ID is the first 4 bytes of
 * SHA-256(name || 0x0A || 0x01 || public key), 0x01 being the Ed25519 signature type.
 */

const ED25519_TYPE = 0x01;
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export class MalformedNote extends Error {
  override readonly name = 'MalformedNote';
}

export function noteKeyId(name: string, publicKey: Buffer): Buffer {
  return createHash('sha256').update(name).update(Buffer.of(0x0a, ED25519_TYPE)).update(publicKey).digest().subarray(0, 4);
}

/** A signer from a 32-byte Ed25519 seed. Key names are non-empty and hold no space, '+' or newline. */
export class NoteSigner {
  readonly publicKey: Buffer;
  readonly keyId: Buffer;
  private readonly key: KeyObject;

  constructor(
    readonly name: string,
    seed: Buffer,
  ) {
    if (!/^[^\s+]+$/u.test(name)) throw new MalformedNote(`invalid key name ${JSON.stringify(name)}`);
    if (seed.length !== 32) throw new MalformedNote('an Ed25519 seed is 32 bytes');
    this.key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    this.publicKey = createPublicKey(this.key).export({ format: 'der', type: 'spki' }).subarray(-32);
    this.keyId = noteKeyId(name, this.publicKey);
  }

  /** The verifier key others configure: "<name>+<hex key ID>+<base64(0x01 || public key)>". */
  get verifierKey(): string {
    return `${this.name}+${this.keyId.toString('hex')}+${Buffer.concat([Buffer.of(ED25519_TYPE), this.publicKey]).toString('base64')}`;
  }

  sign(text: string): string {
    if (!text.endsWith('\n') || text.includes('\n\n')) throw new MalformedNote('note text must end in a newline and hold no blank line');
    const sig = sign(null, Buffer.from(text, 'utf8'), this.key);
    return `${text}\n\u2014 ${this.name} ${Buffer.concat([this.keyId, sig]).toString('base64')}\n`;
  }
}

export interface VerifierKey {
  name: string;
  keyId: Buffer;
  publicKey: Buffer;
}

export function parseVerifierKey(vkey: string): VerifierKey {
  // Split at the first two '+' only: the base64 key may hold '+' itself.
  const [name, id, ...keyParts] = vkey.trim().split('+');
  const key = keyParts.join('+');
  const raw = Buffer.from(key, 'base64');
  if (!name || !/^[0-9a-f]{8}$/.test(id ?? '') || raw.length !== 33 || raw[0] !== ED25519_TYPE)
    throw new MalformedNote('not an Ed25519 verifier key (name+keyid+base64 key)');
  const publicKey = raw.subarray(1);
  if (!noteKeyId(name, publicKey).equals(Buffer.from(id, 'hex')))
    throw new MalformedNote('verifier key: the key ID does not match the name and key');
  return { name, keyId: Buffer.from(id, 'hex'), publicKey };
}

/** Splits a note into its text and signature lines; throws MalformedNote on anything else. */
export function splitNote(note: string): { text: string; signatures: { name: string; keyId: Buffer; sig: Buffer }[] } {
  const at = note.lastIndexOf('\n\n');
  if (at < 0 || !note.endsWith('\n')) throw new MalformedNote('no signature block');
  const text = note.slice(0, at + 1);
  const signatures = note
    .slice(at + 2, -1)
    .split('\n')
    .map((line) => {
      const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line);
      if (!m) throw new MalformedNote('malformed signature line');
      const raw = Buffer.from(m[2], 'base64');
      if (raw.length < 5) throw new MalformedNote('signature too short');
      return { name: m[1], keyId: raw.subarray(0, 4), sig: raw.subarray(4) };
    });
  return { text, signatures };
}

/** The note's text when `vkey` signed it, else null. */
export function openNote(note: string, vkey: VerifierKey): string | null {
  const { text, signatures } = splitNote(note);
  const spki = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), vkey.publicKey]),
    format: 'der',
    type: 'spki',
  });
  for (const s of signatures) {
    if (s.name === vkey.name && s.keyId.equals(vkey.keyId) && s.sig.length === 64 && verify(null, Buffer.from(text, 'utf8'), spki, s.sig))
      return text;
  }
  return null;
}
