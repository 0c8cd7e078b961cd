import { DomainError, type DomainErrorCode } from '../../plugin/index.js';

/** A callback the broker refuses; `reason` goes into `LoginFailed`. */
export class OidcRejected extends DomainError {
  constructor(
    readonly reason: string,
    message: string,
    code: DomainErrorCode = 'invalid_input',
  ) {
    super(code, message);
  }
}

/** openid-client / oauth4webapi errors to reasons (their codes and messages name the failed check). */
export function fromOpenidClient(err: unknown): OidcRejected {
  const e = err as { code?: string; message?: string; error?: string; cause?: { claim?: string; code?: string; message?: string } };
  // openid-client wraps oauth4webapi's error: the precise message and code are on the cause.
  const m = [e?.message ?? String(err), e?.cause?.message ?? ''].join(' | ');
  const code = e?.cause?.code ?? e?.code;
  if (e?.code === 'OAUTH_AUTHORIZATION_RESPONSE_ERROR' || e?.error)
    return new OidcRejected('oidc_idp_error', 'The identity provider did not authenticate you.', 'unauthenticated');
  if (/"iss" \(issuer\) response parameter/.test(m))
    return new OidcRejected('oidc_wrong_iss', 'The answer came from another identity provider.');
  if (/"state"/.test(m)) return new OidcRejected('oidc_state_mismatch', 'This login does not match the one started here.');
  if (/signature verification failed/i.test(m) || code === 'OAUTH_KEY_SELECTION_FAILED')
    return new OidcRejected('oidc_bad_signature', 'The identity token is not signed by the identity provider.', 'bad_signature');
  if (/nonce/i.test(m) || e?.cause?.claim === 'nonce')
    return new OidcRejected('oidc_nonce_mismatch', 'The identity token was not issued for this login.', 'replayed');
  if (code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED' || /"exp"|"iat"/.test(m))
    return new OidcRejected('oidc_expired', 'The identity token has expired.', 'expired');
  if (/"iss"|"aud"|"azp"/.test(m)) return new OidcRejected('oidc_wrong_claims', 'The identity token is meant for someone else.');
  return new OidcRejected('oidc_invalid', 'The answer from the identity provider could not be validated.');
}
