import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ResponseStep } from './response-hook.js';

const DOCUMENT = /^\s*(text\/html|application\/xhtml\+xml)\b/i;

/**
 * `Cache-Control: no-store` (RFC 9111 §5.2.2.5) on the broker's answers a shared or browser cache
 * must not keep:
 * - every page the broker renders: login, MFA, setup, TOTP enrolment, recovery codes, consent and
 *   admin pages carry a CSRF token, a one-time secret or a step of someone's login, and a page kept
 *   in the back/forward or disk cache shows them again to the next person at that browser;
 * - every answer that sets a cookie (a session, a pending SAML/OIDC login): a cache that stored one
 *   would hand that cookie to whoever asked next;
 * - a route that says so with `config: { noStore: true }` (JSON answers that carry a secret, such
 *   as the admin CSRF token). The OAuth token endpoint sends its own (RFC 6749 §5.1).
 * A Cache-Control the route set itself is left alone. Routes that skip the security headers
 * (`helmet: false`: proxied apps, discovery, JWKS) get nothing from here: their caching is theirs.
 */
export const noStore: ResponseStep = (route) => {
  const cfg = route.config as { helmet?: { skipRoute?: boolean }; noStore?: boolean } | undefined;
  if (cfg?.helmet?.skipRoute) return null;
  const always = cfg?.noStore === true;
  return (_req: FastifyRequest, reply: FastifyReply): void => {
    if (reply.getHeader('cache-control') !== undefined) return;
    const type = reply.getHeader('content-type');
    if (always || (typeof type === 'string' && DOCUMENT.test(type)) || reply.getHeader('set-cookie') !== undefined)
      reply.header('cache-control', 'no-store');
  };
};
