import {
  generateRegistrationOptions,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { PasskeyRefused, passkeyDecider } from './credential.js';
import type { Deps } from './deps.js';
import { passkeyStream } from './events.js';

export type RegistrationOutcome = { ok: true; credentialId: string } | { ok: false; status: number; error: string; message: string };

/** Creation options for a user (§5.4): a discoverable credential, no attestation, their passkeys excluded. */
export function registrationOptions(d: Deps, userId: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const user = d.ctx.read.users.get(userId);
  return generateRegistrationOptions({
    rpName: d.rp.name,
    rpID: d.rp.id,
    // The user handle: the broker's user id (random, no personal data; §14.6.1).
    userID: Buffer.from(userId, 'utf8'),
    userName: user?.email ?? userId,
    userDisplayName: user?.name ?? user?.email ?? '',
    attestationType: 'none',
    excludeCredentials: d.view.ofUser(userId).map((k) => ({ id: k.credentialId, transports: k.transports as never })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
    timeout: 120_000,
  });
}

/**
 * Verifies an attestation (§7.1) for `userId` and records `PasskeyRegistered` (public key, counter,
 * transports, device type, backup state), appended `no_stream` so a credential id belongs to one user.
 */
export async function registerCredential(
  d: Deps,
  userId: string,
  response: RegistrationResponseJSON,
  challenge: string,
  rawName: string | undefined,
  actor: string,
): Promise<RegistrationOutcome> {
  let verified;
  try {
    verified = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: d.rp.origin,
      expectedRPID: d.rp.id,
      requireUserVerification: false,
    });
  } catch (err) {
    return {
      ok: false,
      status: 400,
      error: 'invalid_registration',
      message: `The passkey could not be registered: ${(err as Error).message}`,
    };
  }
  if (!verified.verified || !verified.registrationInfo)
    return { ok: false, status: 400, error: 'invalid_registration', message: 'The passkey could not be verified.' };
  const { credential, credentialDeviceType, credentialBackedUp } = verified.registrationInfo;
  const name = (rawName ?? '').trim().slice(0, 64) || 'Passkey';
  try {
    const passkey = {
      userId,
      credentialId: credential.id,
      publicKey: Buffer.from(credential.publicKey).toString('base64url'),
      counter: credential.counter,
      transports: credential.transports ?? [],
      deviceType: credentialDeviceType,
      backedUp: credentialBackedUp,
      name,
    };
    const r = await d.ctx.commands.handle(passkeyDecider, passkeyStream(credential.id), { type: 'register', passkey }, { actor });
    await d.ctx.projections.waitFor(r.position);
  } catch (err) {
    if (err instanceof PasskeyRefused)
      return { ok: false, status: 409, error: 'already_registered', message: 'This passkey is already registered.' };
    throw err;
  }
  return { ok: true, credentialId: credential.id };
}
