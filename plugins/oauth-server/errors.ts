import type { FastifyReply } from 'fastify';

/** OAuth error codes (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; RFC 7009 §2.2.1). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'unsupported_token_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'login_required'
  | 'consent_required'
  | 'server_error';

export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status = error === 'invalid_client' || error === 'invalid_token' ? 401 : 400,
    /** `Basic` when the client tried HTTP Basic (RFC 6749 §5.2 requires WWW-Authenticate then). */
    readonly challenge?: 'Basic' | 'Bearer',
    /** RFC 6750 §3: the scope the resource needs, told with `insufficient_scope`. */
    readonly scope?: string,
  ) {
    super(description);
    this.name = 'OAuthError';
  }
}

/** JSON error body per RFC 6749 §5.2; never cached (§5.1). */
export function sendOAuthError(reply: FastifyReply, err: OAuthError, realm = 'broker'): FastifyReply {
  if (err.challenge === 'Basic') reply.header('www-authenticate', `Basic realm="${realm}"`);
  if (err.challenge === 'Bearer') {
    const scope = err.scope ? `, scope="${err.scope}"` : '';
    reply.header(
      'www-authenticate',
      `Bearer realm="${realm}", error="${err.error}", error_description="${err.description.replace(/"/g, "'")}"${scope}`,
    );
  }
  return reply
    .code(err.status)
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .send({ error: err.error, error_description: err.description });
}

/**
 * RFC 6750 §3.1: a request that carries no token at all is answered 401 with the bare challenge,
 * no error code (a client that has not tried has done nothing wrong).
 */
export function sendBearerChallenge(reply: FastifyReply, realm = 'broker'): FastifyReply {
  return reply
    .code(401)
    .header('www-authenticate', `Bearer realm="${realm}"`)
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .send();
}
