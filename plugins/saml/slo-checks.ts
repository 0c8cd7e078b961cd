import { timingSafeEqual } from 'node:crypto';
import { SamlRejected } from './errors.js';

/** What the checks read off a LogoutRequest or LogoutResponse root (saml-core §3.2.1, §3.2.2, §3.7.1). */
export interface LogoutFacts {
  id: string;
  destination: string | null;
  issueInstant: string | null;
  /** LogoutRequest only: the time after which it must not be acted on (saml-core §3.7.1). */
  notOnOrAfter: string | null;
  inResponseTo: string | null;
}

const attr = (el: Element, name: string): string | null => (el.hasAttribute(name) ? el.getAttribute(name) : null);

export function logoutFacts(root: Element): LogoutFacts {
  return {
    id: attr(root, 'ID') ?? '',
    destination: attr(root, 'Destination'),
    issueInstant: attr(root, 'IssueInstant'),
    notOnOrAfter: attr(root, 'NotOnOrAfter'),
    inResponseTo: attr(root, 'InResponseTo'),
  };
}

export interface LogoutExpectations {
  /** This IdP's SLO endpoint at the broker (where the message must say it is going). */
  sloUrl: string;
  now: Date;
  skewMs: number;
  /** How old an IssueInstant may be: a logout message is acted on at once, or never. */
  maxAgeMs: number;
}

/**
 * The checks samlify does not make on a logout message, after its signature was verified:
 * - Destination is this endpoint (saml-bindings §3.4.5.2, §3.5.5.2: a signed message must carry
 *   one, and a message sent to another SP of the same IdP must not be acted on here);
 * - fresh: IssueInstant within `maxAgeMs` (plus the clock skew) of now and not in the future, and
 *   the LogoutRequest's NotOnOrAfter not passed. This bounds how long the replay record matters.
 */
export function checkLogoutMessage(f: LogoutFacts, e: LogoutExpectations): void {
  if (!f.id) throw new SamlRejected('saml_malformed', 'The logout message has no ID.');
  if (f.destination !== e.sloUrl) throw new SamlRejected('saml_wrong_destination', 'The logout message was sent to another address.');
  const now = e.now.getTime();
  const issued = f.issueInstant ? Date.parse(f.issueInstant) : NaN;
  if (Number.isNaN(issued)) throw new SamlRejected('saml_malformed', 'The logout message has no valid IssueInstant.');
  if (issued - e.skewMs > now) throw new SamlRejected('saml_logout_not_yet_valid', 'The logout message is dated in the future.', 'expired');
  if (issued + e.maxAgeMs + e.skewMs <= now) throw new SamlRejected('saml_logout_expired', 'The logout message has expired.', 'expired');
  if (f.notOnOrAfter !== null) {
    const noa = Date.parse(f.notOnOrAfter);
    if (Number.isNaN(noa) || noa + e.skewMs <= now)
      throw new SamlRejected('saml_logout_expired', 'The logout message has expired.', 'expired');
  }
}

/** A LogoutResponse answers the LogoutRequest this browser's logout sent (saml-core §3.2.2), and no other. */
export function checkInResponseTo(f: LogoutFacts, sentId: string | null): void {
  const a = Buffer.from(f.inResponseTo ?? '');
  const b = Buffer.from(sentId ?? '');
  if (!sentId || !f.inResponseTo || a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new SamlRejected(
      'saml_logout_unknown_request',
      'This logout answer does not match a logout started in this browser.',
      'forbidden',
    );
  }
}
