import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { requestCookies } from './web-kit.js';

/**
 * CSRF tokens for logged-in forms and the admin JSON API, bound to the session: the token is an
 * HMAC keyed with the session cookie's token. Why this and not @fastify/csrf-protection's
 * double-submit cookie: it needs no second cookie and no server state (any broker node can check
 * it), it dies with the session (logout or ban invalidates every token at once), and it cannot be
 * derived from the log (events hold only the session id, a hash of the cookie token). A page on
 * another origin can read neither the HttpOnly cookie nor our pages, so it cannot compute it.
 * Pre-session forms (login, registration) use @fastify/csrf-protection instead: there is no session yet.
 */
export function sessionCsrfToken(sessionCookieToken: string): string {
  return createHmac('sha256', sessionCookieToken).update('broker.csrf.v1').digest('base64url');
}

export function csrfTokenFor(req: FastifyRequest, cookieName: string): string | null {
  const t = requestCookies(req)[cookieName];
  return t ? sessionCsrfToken(t) : null;
}

/** The token from the `x-csrf-token` header or a `_csrf` form/JSON field, checked in constant time. */
export function checkSessionCsrf(req: FastifyRequest, cookieName: string): boolean {
  const expected = csrfTokenFor(req, cookieName);
  const header = req.headers['x-csrf-token'];
  const body = req.body as { _csrf?: unknown } | null | undefined;
  const given =
    typeof header === 'string' ? header : body && typeof body === 'object' && typeof body._csrf === 'string' ? body._csrf : null;
  if (!expected || !given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
