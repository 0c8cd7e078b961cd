import type { FastifyRequest } from 'fastify';
import { verifyAuthenticationResponse, type AuthenticationResponseJSON } from '@simplewebauthn/server';
import { PasskeyRefused, passkeyDecider } from './credential.js';
import { IDP_ID, recordFailure, type Deps } from './deps.js';
import { passkeyStream } from './events.js';
import type { PasskeyView } from './passkeys-view.js';

export type AssertionOutcome = { ok: true; key: PasskeyView; userVerified: boolean } | { ok: false; status: number; message: string };

const META = { actor: `plugin:${IDP_ID}` };

/**
 * Verifies a WebAuthn assertion (§7.2) against the stored credential and records its use. Every
 * refusal is a `LoginFailed`. The signature is checked before anything is believed: the counter
 * comparison runs only on a verified assertion, so a forged one cannot plant a "cloned" record.
 *
 * - `forUser`: the account the login step is for (a credential of someone else is refused).
 * - Counter (§6.1.1): when either side counts, the presented value must exceed the stored one; one
 *   that does not is a second authenticator holding this key: refused, `PasskeyCounterRejected`.
 * - `PasskeyUsed` (new counter, backup flag) is decided on the credential's stream by passkeyDecider:
 *   two racing logins presenting one counter value cannot both pass, on one node or several.
 */
export async function verifyAssertion(
  d: Deps,
  req: FastifyRequest,
  response: AuthenticationResponseJSON,
  challenge: string,
  forUser?: string,
): Promise<AssertionOutcome> {
  const { ctx, view, rp } = d;
  const key = typeof response.id === 'string' && response.id.length <= 1024 ? view.get(response.id) : undefined;
  if (!key) {
    await recordFailure(d, req, forUser ?? null, 'unknown_passkey', null);
    return { ok: false, status: 401, message: 'This passkey is not registered here.' };
  }
  if (forUser && key.userId !== forUser) {
    await recordFailure(d, req, forUser, 'passkey_other_account', key.credentialId);
    return { ok: false, status: 401, message: 'This passkey belongs to another account.' };
  }
  // The user handle the authenticator returned must be the account the credential belongs to.
  const handle = response.response?.userHandle;
  if (handle && Buffer.from(handle, 'base64url').toString('utf8') !== key.userId) {
    await recordFailure(d, req, key.userId, 'passkey_user_mismatch', key.credentialId);
    return { ok: false, status: 401, message: 'This passkey does not belong to the account it names.' };
  }
  let info;
  try {
    const verified = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: false,
      // Counter 0 here: the library compares counters before it checks the signature; we compare after.
      credential: {
        id: key.credentialId,
        publicKey: Buffer.from(key.publicKey, 'base64url'),
        counter: 0,
        transports: key.transports as never,
      },
    });
    if (!verified.verified) throw new Error('signature');
    info = verified.authenticationInfo;
  } catch {
    await recordFailure(d, req, key.userId, 'passkey_invalid', key.credentialId);
    return { ok: false, status: 401, message: 'The passkey answer did not verify.' };
  }
  let r;
  try {
    // Decided on the credential's stream, not the view: a use racing this one is seen here.
    r = await ctx.commands.handle(
      passkeyDecider,
      passkeyStream(key.credentialId),
      { type: 'use', userId: key.userId, counter: info.newCounter, backedUp: info.credentialBackedUp },
      META,
    );
  } catch (err) {
    if (!(err instanceof PasskeyRefused)) throw err;
    await recordFailure(d, req, key.userId, 'unknown_passkey', key.credentialId);
    return { ok: false, status: 401, message: 'This passkey is not registered here.' };
  }
  await ctx.projections.waitFor(r.position);
  if (r.events.some((e) => e.type === 'PasskeyCounterRejected')) {
    await recordFailure(d, req, key.userId, 'passkey_counter', key.credentialId);
    return {
      ok: false,
      status: 401,
      message: 'This passkey looks cloned (its signature counter went backwards). It was refused and the attempt recorded.',
    };
  }
  return { ok: true, key, userVerified: info.userVerified };
}
