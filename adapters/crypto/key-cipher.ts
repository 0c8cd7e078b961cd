import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Private keys at rest in the event log: a compact JWE (RFC 7516) with `alg: dir`, `enc: A256GCM`
 * under a key derived from the master key, so the log never holds a usable private key and any
 * JOSE library (jose's `compactDecrypt`) can open it with the same key. Synchronous on purpose:
 * projections apply events synchronously.
 */
const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

export function encryptDir(plaintext: string, key: Buffer, kid?: string): string {
  if (key.length !== 32) throw new Error('A256GCM needs a 32-byte key');
  const header = b64(JSON.stringify(kid ? { alg: 'dir', enc: 'A256GCM', kid } : { alg: 'dir', enc: 'A256GCM' }));
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  // RFC 7516 §5.1 step 14: the AAD is the ASCII of the encoded protected header.
  c.setAAD(Buffer.from(header, 'ascii'));
  const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return `${header}..${b64(iv)}.${b64(ct)}.${b64(c.getAuthTag())}`;
}

export function decryptDir(jwe: string, key: Buffer): string {
  const parts = jwe.split('.');
  if (parts.length !== 5 || parts[1] !== '') throw new Error('not a dir JWE');
  const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as { alg?: string; enc?: string };
  if (header.alg !== 'dir' || header.enc !== 'A256GCM') throw new Error('unsupported JWE algorithm');
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(parts[2], 'base64url'));
  d.setAAD(Buffer.from(parts[0], 'ascii'));
  d.setAuthTag(Buffer.from(parts[4], 'base64url'));
  return Buffer.concat([d.update(Buffer.from(parts[3], 'base64url')), d.final()]).toString('utf8');
}
