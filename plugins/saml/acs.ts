import { createRequire } from 'node:module';
import type { AuthenticatedIdentity, Clock } from '../../plugin/index.js';
import type { SamlPeer } from './entities.js';
import { SamlRejected, fromSamlify } from './errors.js';
import { decodeBase64Message, guardStructure, parseSaml } from './xml-guard.js';
import { checkAssertion, checkTimes, readAssertion, type AssertionFacts } from './assertion.js';
import type { SamlOneTime } from './one-time.js';
import type { LoginBindings } from './login-binding.js';

export interface AcceptedResponse {
  identity: AuthenticatedIdentity;
  /** SP-initiated: true (the browser's login binding is spent); IdP-initiated: false. */
  solicited: boolean;
  /** The login request this browser bound to the AuthnRequest (SP-initiated), if any. */
  loginRequest: string | null;
  /** IdP-initiated: the allowed RelayState to go to after login. */
  relayTarget: string | null;
  facts: AssertionFacts;
}

const samlLib = createRequire(import.meta.url)('samlify').SamlLib as {
  decryptAssertion(sp: unknown, xml: string): Promise<[string, string]>;
};

async function decryptedDocument(peer: SamlPeer, xml: string): Promise<string> {
  try {
    return (await samlLib.decryptAssertion(peer.sp, xml))[0];
  } catch {
    throw new SamlRejected('saml_decryption_failed', 'The SAML assertion could not be decrypted.');
  }
}

const first = (v: string[] | undefined): string | null => (v && v.length ? v[0] : null);

/** Maps the assertion to the identity the core links (issuer = the IdP's entityID). */
export function toIdentity(peer: SamlPeer, f: AssertionFacts): AuthenticatedIdentity {
  const m = peer.config.attributes ?? {};
  const subject = m.userId ? first(f.attributes[m.userId]) : f.nameId;
  if (!subject) throw new SamlRejected('saml_no_subject', 'The SAML assertion does not say who you are.');
  const email = m.email ? first(f.attributes[m.email]) : null;
  const attributes: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f.attributes)) attributes[k] = v.length === 1 ? v[0] : v;
  return {
    issuer: peer.idpEntityId,
    subject,
    email,
    emailVerified: Boolean(email && peer.config.emailVerified),
    name: m.name ? first(f.attributes[m.name]) : null,
    tenant: m.tenant ? first(f.attributes[m.tenant]) : null,
    groups: m.groups ? (f.attributes[m.groups] ?? []) : [],
    attributes,
    amr: ['fed'],
  };
}

/**
 * Validates a SAMLResponse posted to the ACS (saml-profiles §4.1.4): structure (XSW, DTD,
 * comments), schema and signature (samlify, against the IdP's metadata certificate), then the
 * broker's own checks, then the browser binding (SP-initiated), then the one-time consumption of
 * the request and of the assertion id. Consumption comes last so a refused response burns nothing.
 */
export async function acceptResponse(
  peer: SamlPeer,
  body: { SAMLResponse?: unknown; RelayState?: unknown },
  deps: {
    oneTime: SamlOneTime;
    bindings: LoginBindings;
    bindingCookie: string | undefined;
    clock: Clock;
    skewMs: number;
    maxBytes: number;
  },
): Promise<AcceptedResponse> {
  const xml = decodeBase64Message(body.SAMLResponse, deps.maxBytes);
  if (Buffer.byteLength(xml) > deps.maxBytes) throw new SamlRejected('saml_oversized', 'The SAML message is too large.');
  const raw = guardStructure(parseSaml(xml), 'Response', true);
  const expected = {
    idpEntityId: peer.idpEntityId,
    spEntityId: peer.spEntityId,
    acsUrl: peer.acsUrl,
    now: deps.clock.now(),
    skewMs: deps.skewMs,
  };
  let samlContent: string;
  try {
    const res = await peer.sp.parseLoginResponse(peer.idp, 'post', { body: { SAMLResponse: Buffer.from(xml).toString('base64') } });
    samlContent = res.samlContent;
  } catch (err) {
    const rejected = fromSamlify(err);
    // samlify says only "time invalid"; name which bound failed (the message is refused either way).
    if (rejected.reason === 'saml_time_invalid' && raw.assertion) checkTimes(readAssertion(raw), expected);
    throw rejected;
  }
  // For an encrypted assertion samlify verifies its own decrypted copy but hands back the
  // encrypted document: decrypt again (same ciphertext, same plaintext) to read what it verified.
  if (!raw.assertion) samlContent = await decryptedDocument(peer, xml);
  const facts = readAssertion(guardStructure(parseSaml(samlContent), 'Response', true));
  checkAssertion(facts, expected);
  const identity = toIdentity(peer, facts);

  const relayState = typeof body.RelayState === 'string' && body.RelayState ? body.RelayState : null;
  let loginRequest: string | null = null;
  let relayTarget: string | null = null;
  if (facts.inResponseTo) {
    // A genuine response is not enough: the browser posting it must be the one that sent the
    // AuthnRequest, or an attacker's own response posted from a victim's browser logs the victim
    // in as the attacker (login CSRF). saml-profiles §4.1.4.3: InResponseTo is the ID of *its* AuthnRequest.
    loginRequest = (await deps.bindings.expect(peer, deps.bindingCookie, facts.inResponseTo, deps.clock.now())).lr;
    await deps.oneTime.consumeRequest(peer.id, facts.inResponseTo);
  } else {
    // saml-profiles §4.1.5: unsolicited responses only where the operator opted in, and the
    // RelayState (where to go next) only from the allow-list: no open redirect.
    const ii = peer.config.idpInitiated;
    if (!ii?.enabled) throw new SamlRejected('saml_unsolicited', 'This identity provider may not start a login on its own.', 'forbidden');
    if (relayState !== null) {
      if (!(ii.relayStates ?? []).includes(relayState))
        throw new SamlRejected('saml_relay_state_not_allowed', 'The page to return to is not allowed.', 'forbidden');
      relayTarget = relayState;
    }
  }
  await deps.oneTime.consumeAssertion(peer.id, facts.assertionId, facts.notOnOrAfter);
  return { identity, solicited: facts.inResponseTo !== null, loginRequest, relayTarget, facts };
}
