import { SamlRejected } from './errors.js';
import { childElements, firstChild, plainText, NS_ASSERTION as A, type GuardedMessage } from './xml-guard.js';

/** What the broker reads from a guarded (single, signed) assertion. */
export interface AssertionFacts {
  responseId: string | null;
  inResponseTo: string | null;
  destination: string | null;
  assertionId: string;
  issuer: string;
  nameId: string | null;
  sessionIndex: string | null;
  notBefore: string | null;
  notOnOrAfter: string | null;
  audiences: string[][];
  confirmations: { recipient: string | null; notOnOrAfter: string | null; inResponseTo: string | null }[];
  attributes: Record<string, string[]>;
}

const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const attr = (el: Element | undefined, name: string): string | null => (el && el.hasAttribute(name) ? el.getAttribute(name) : null);

export function readAssertion(g: GuardedMessage): AssertionFacts {
  const a = g.assertion;
  if (!a) throw new SamlRejected('saml_no_assertion', 'The SAML response carries no assertion.');
  const subject = firstChild(a, A, 'Subject');
  const conditions = firstChild(a, A, 'Conditions');
  const attributes: Record<string, string[]> = {};
  for (const stmt of childElements(a, A, 'AttributeStatement')) {
    for (const at of childElements(stmt, A, 'Attribute')) {
      const name = at.getAttribute('Name');
      if (!name) continue;
      const values = childElements(at, A, 'AttributeValue').map((v) => plainText(v) ?? '');
      attributes[name] = [...(attributes[name] ?? []), ...values];
    }
  }
  const confirmations = (subject ? childElements(subject, A, 'SubjectConfirmation') : [])
    .filter((sc) => sc.getAttribute('Method') === BEARER)
    .map((sc) => {
      const d = firstChild(sc, A, 'SubjectConfirmationData');
      return { recipient: attr(d, 'Recipient'), notOnOrAfter: attr(d, 'NotOnOrAfter'), inResponseTo: attr(d, 'InResponseTo') };
    });
  return {
    responseId: attr(g.root, 'ID'),
    inResponseTo: attr(g.root, 'InResponseTo') || null,
    destination: attr(g.root, 'Destination'),
    assertionId: a.getAttribute('ID') ?? '',
    issuer: plainText(firstChild(a, A, 'Issuer')) ?? '',
    nameId: plainText(firstChild(subject, A, 'NameID')) ?? null,
    sessionIndex: attr(firstChild(a, A, 'AuthnStatement'), 'SessionIndex'),
    notBefore: attr(conditions, 'NotBefore'),
    notOnOrAfter: attr(conditions, 'NotOnOrAfter'),
    audiences: conditions
      ? childElements(conditions, A, 'AudienceRestriction').map((r) => childElements(r, A, 'Audience').map((x) => plainText(x) ?? ''))
      : [],
    confirmations,
    attributes,
  };
}

export interface ExpectedFacts {
  idpEntityId: string;
  spEntityId: string;
  acsUrl: string;
  now: Date;
  skewMs: number;
}

function time(s: string | null, what: string): number | null {
  if (s === null) return null;
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new SamlRejected('saml_malformed', `The SAML assertion has an invalid ${what}.`);
  return t;
}

/** Conditions validity window (saml-core §2.5.1.2), widened by the configured clock skew only. */
export function checkTimes(f: AssertionFacts, e: ExpectedFacts): void {
  const now = e.now.getTime();
  const nb = time(f.notBefore, 'NotBefore');
  const noa = time(f.notOnOrAfter, 'NotOnOrAfter');
  if (nb !== null && nb - e.skewMs > now) throw new SamlRejected('saml_not_yet_valid', 'The SAML assertion is not valid yet.', 'expired');
  if (noa !== null && noa + e.skewMs <= now) throw new SamlRejected('saml_expired', 'The SAML assertion has expired.', 'expired');
}

/** The checks samlify leaves to the caller (saml-profiles §4.1.4.2-4.1.4.3, saml-core §2.5). */
export function checkAssertion(f: AssertionFacts, e: ExpectedFacts): void {
  const now = e.now.getTime();
  if (!f.assertionId) throw new SamlRejected('saml_malformed', 'The SAML assertion has no ID.');
  if (f.issuer !== e.idpEntityId) throw new SamlRejected('saml_wrong_issuer', 'The SAML assertion comes from another identity provider.');
  // saml-bindings §3.5.5.2: a signed message's Destination must be the endpoint it arrived at.
  if (f.destination !== null && f.destination !== e.acsUrl)
    throw new SamlRejected('saml_wrong_destination', 'The SAML response was sent to another service.');
  // saml-core §2.5.1.4: the assertion is addressed to us in every AudienceRestriction; profiles §4.1.4.2 requires one.
  if (f.audiences.length === 0 || f.audiences.some((list) => !list.includes(e.spEntityId)))
    throw new SamlRejected('saml_wrong_audience', 'The SAML assertion is meant for another service.');
  checkTimes(f, e);
  // profiles §4.1.4.2: a bearer SubjectConfirmation with our ACS as Recipient, unexpired, and
  // answering the same request as the response.
  const ok = f.confirmations.filter((c) => c.recipient === e.acsUrl);
  if (ok.length === 0) throw new SamlRejected('saml_wrong_recipient', 'The SAML assertion is meant for another endpoint.');
  const live = ok.filter((c) => {
    const t = time(c.notOnOrAfter, 'SubjectConfirmationData NotOnOrAfter');
    return t === null || t + e.skewMs > now;
  });
  if (live.length === 0) throw new SamlRejected('saml_expired', 'The SAML assertion has expired.', 'expired');
  if (!live.some((c) => (c.inResponseTo ?? null) === f.inResponseTo))
    throw new SamlRejected('saml_in_response_to_mismatch', 'The SAML assertion answers another request.');
}
