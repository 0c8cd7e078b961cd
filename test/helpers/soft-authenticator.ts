/**
 * A software WebAuthn authenticator on node:crypto, for tests and the login benchmark that need no
 * browser: one ES256 (P-256) credential, answers in the JSON shape the page script posts.
 * Assertions are ES256 over authenticatorData || SHA-256(clientDataJSON) (WebAuthn §6.3.3); the
 * registration's COSE key and "none" attestation are CBOR-encoded with @simplewebauthn's own
 * encoder (no hand-written CBOR). Like a security key, it counts: each assertion bumps the
 * counter, and `counter` can be set back to play a clone.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const b64u = (b: Uint8Array | Buffer | string): string => Buffer.from(b as Uint8Array).toString('base64url');
const sha256 = (b: Uint8Array | string): Buffer => createHash('sha256').update(b).digest();

// Flags (§6.1): user present, user verified, backup eligible/state, attested credential data.
const UP = 0x01;
const UV = 0x04;
const AT = 0x40;

export interface SoftAuthenticatorOptions {
  rpId: string;
  origin: string;
  userVerified?: boolean;
}

export class SoftAuthenticator {
  readonly credentialId = b64u(randomBytes(32));
  counter = 0;
  private readonly key: KeyObject;
  private readonly publicJwk: { x: string; y: string };
  userHandle: string | null = null;

  constructor(private readonly o: SoftAuthenticatorOptions) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.key = privateKey;
    const jwk = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
    this.publicJwk = { x: jwk.x, y: jwk.y };
  }

  private flags(): number {
    return UP | (this.o.userVerified === false ? 0 : UV);
  }

  private clientData(type: 'webauthn.create' | 'webauthn.get', challenge: string, origin = this.o.origin): string {
    return JSON.stringify({ type, challenge, origin, crossOrigin: false });
  }

  /** The answer to `navigator.credentials.create` for these options (they give the challenge and the user handle). */
  register(options: { challenge: string; user: { id: string } }): Record<string, unknown> {
    this.userHandle = options.user.id;
    // COSE_Key (RFC 9053 §7.1.1): kty EC2, alg ES256, crv P-256, x, y.
    const cose = new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(this.publicJwk.x, 'base64url')],
      [-3, Buffer.from(this.publicJwk.y, 'base64url')],
    ]);
    const credId = Buffer.from(this.credentialId, 'base64url');
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(this.counter);
    const idLen = Buffer.alloc(2);
    idLen.writeUInt16BE(credId.length);
    const authData = Buffer.concat([
      sha256(this.o.rpId),
      Buffer.from([this.flags() | AT]),
      counter,
      Buffer.alloc(16),
      idLen,
      credId,
      Buffer.from(isoCBOR.encode(cose)),
    ]);
    const attestationObject = isoCBOR.encode(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]) as never,
    );
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: 'public-key',
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64u(this.clientData('webauthn.create', options.challenge)),
        attestationObject: b64u(attestationObject),
        transports: ['internal'],
      },
    };
  }

  /** The answer to `navigator.credentials.get` for a challenge; the counter goes up by one first. */
  assert(challenge: string, opts: { origin?: string; counter?: number } = {}): Record<string, unknown> {
    this.counter = opts.counter ?? this.counter + 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(this.counter);
    const authData = Buffer.concat([sha256(this.o.rpId), Buffer.from([this.flags()]), counter]);
    const clientDataJSON = this.clientData('webauthn.get', challenge, opts.origin);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), this.key); // DER, as authenticators send
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: 'public-key',
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        ...(this.userHandle ? { userHandle: this.userHandle } : {}),
      },
    };
  }
}
