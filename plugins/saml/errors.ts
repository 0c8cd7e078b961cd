import { DomainError, type DomainErrorCode } from '../../plugin/index.js';

/**
 * A SAML message the broker refuses. `reason` is the short code recorded in `LoginFailed`
 * (`saml_bad_signature`, `saml_replayed`...); the message is safe to show on the error page.
 */
export class SamlRejected extends DomainError {
  constructor(
    readonly reason: string,
    message: string,
    code: DomainErrorCode = 'invalid_input',
  ) {
    super(code, message);
  }
}

/** samlify throws plain `Error`s with codes as messages; map the ones it uses to our reasons. */
export function fromSamlify(err: unknown): SamlRejected {
  const m = err instanceof Error ? err.message : String(err);
  if (m.includes('WRAPPING'))
    return new SamlRejected('saml_signature_wrapping', 'The SAML response has an unexpected structure.', 'bad_signature');
  if (/signature/i.test(m) || m.includes('CERTIFICATE') || m.includes('SIG_ALG') || m.includes('NO_SELECTED_CERTIFICATE'))
    return new SamlRejected('saml_bad_signature', 'The SAML response is not signed by the identity provider.', 'bad_signature');
  if (m.includes('ERR_UNMATCH_ISSUER'))
    return new SamlRejected('saml_wrong_issuer', 'The SAML response comes from another identity provider.');
  if (m.includes('ERR_SUBJECT_UNCONFIRMED') || m.includes('ERR_EXPIRED_SESSION'))
    return new SamlRejected('saml_time_invalid', 'The SAML assertion is expired or not yet valid.', 'expired');
  if (m.includes('ERR_FAILED_STATUS'))
    return new SamlRejected('saml_idp_status', 'The identity provider did not authenticate you.', 'unauthenticated');
  if (m.includes('INVALID_XML') || m.includes('SCHEMA') || m.includes('xml') || m.includes('XML'))
    return new SamlRejected('saml_malformed', 'The SAML message is not valid XML for its schema.');
  return new SamlRejected('saml_invalid', 'The SAML message could not be validated.');
}
