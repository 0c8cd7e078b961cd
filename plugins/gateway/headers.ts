import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { GatewayConfig, GatewayRoute } from './config.js';
import type { GatewayIdentity } from './identity.js';

/**
 * A header name as the app may read it: lower case, `_` as `-`. CGI, WSGI and Rack turn both
 * `X-User-Id` and `X_User_Id` into `HTTP_X_USER_ID`, so a client's underscore spelling is the
 * same header to the app, and must be stripped like the dashed one.
 */
export const canonicalHeader = (name: string): string => name.toLowerCase().replace(/_/g, '-');

/** Every header name the gateway vouches for, canonical. Never forwarded from a client, never allow-listed. */
export function identityHeaderNames(cfg: GatewayConfig): Set<string> {
  return new Set(
    [cfg.internalJwt.header, cfg.headers.userId, cfg.headers.email, cfg.headers.roles, cfg.headers.tenant, ...cfg.stripHeaders].map(
      canonicalHeader,
    ),
  );
}

/**
 * Credentials meant for the broker, stripped unless the route allow-lists them (`forwardHeaders`):
 * `Authorization` (the app gets the internal JWT instead), `Proxy-Authorization`, and the identity
 * a front server would assert (`Remote-User`, `X-Remote-User`: apps behind Apache or a CGI
 * bridge take them as the logged-in user).
 */
const CREDENTIALS = new Set(['authorization', 'proxy-authorization', 'remote-user', 'x-remote-user']);

/**
 * Who the client is and how it came: only the broker knows, so a client's are always dropped and
 * the broker sets its own below; a route cannot allow them (an app would believe them). Also
 * `X-Original-URL` / `X-Rewrite-URL`: some frameworks route by them, past the path the broker authorized.
 */
const FORWARDING = new Set([
  'forwarded',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'x-cluster-client-ip',
  'client-ip',
  'x-original-url',
  'x-rewrite-url',
]);
const isForwarding = (canonical: string): boolean => FORWARDING.has(canonical) || canonical.startsWith('x-forwarded-');

/**
 * `Connection` is dropped so a client cannot name our headers as hop-by-hop and have a later hop
 * strip them; the proxy client sets its own.
 */
const HOP = new Set(['connection', 'proxy-connection', 'keep-alive']);

/**
 * The broker's own cookies: the session, the CSRF cookie of its forms, the pending SAML and OIDC
 * logins and logouts. An app sharing the broker's origin would otherwise read them.
 */
export const BROKER_COOKIE = /^(?:__Host-|__Secure-)?(?:broker_(?:session|csrf|saml_[^=]*|slo_[^=]*)|oidc_rp_[^=]*)$/;

/** The credentials a route lets through from the client, canonical (checked when the config is loaded). */
export function allowList(route: GatewayRoute): Set<string> {
  return new Set((route.forwardHeaders ?? []).map(canonicalHeader));
}

/** Why a route's `forwardHeaders` is refused, or null: only CREDENTIALS can be allowed (others pass anyway). */
export function allowListProblem(route: GatewayRoute, identity: Set<string>): string | null {
  for (const h of allowList(route)) {
    if (identity.has(h) || isForwarding(h) || HOP.has(h))
      return `gateway route ${route.id}: forwardHeaders may not name ${h} (the broker sets or drops it)`;
    if (!CREDENTIALS.has(h))
      return `gateway route ${route.id}: forwardHeaders names ${h}, which is forwarded anyway (only ${[...CREDENTIALS].join(', ')} need allowing)`;
  }
  return null;
}

/** RFC 7239 §6: an IPv6 address is quoted and bracketed; a v4 address stands as it is. */
const forwardedFor = (ip: string): string => (ip.includes(':') ? `"[${ip}]"` : ip);

/**
 * Builds the headers sent upstream: what the client sent, less every identity header in any
 * spelling (RFC 9700 §4.13's lesson for proxies: a client must never be able to assert identity),
 * less forwarding headers and the credentials the route does not allow, less the broker's cookies; then the
 * gateway's own forwarding and identity headers.
 */
export function upstreamHeaders(
  req: FastifyRequest,
  incoming: IncomingHttpHeaders,
  cfg: GatewayConfig,
  strip: Set<string>,
  allow: Set<string>,
  who: GatewayIdentity | undefined,
  internalJwt: string | undefined,
): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(incoming)) {
    const name = k.toLowerCase();
    const canonical = canonicalHeader(name);
    if (strip.has(canonical) || HOP.has(canonical) || isForwarding(canonical)) continue;
    // An allowed credential passes in its own spelling only: its underscore twin is a second
    // value the app would read under the same name.
    if (CREDENTIALS.has(canonical) && !(allow.has(canonical) && name === canonical)) continue;
    out[name] = v;
  }
  if (typeof out.cookie === 'string') {
    const kept = out.cookie
      .split(';')
      .map((c) => c.trim())
      .filter((c) => c && !BROKER_COOKIE.test(c.split('=', 1)[0].trim()));
    if (kept.length) out.cookie = kept.join('; ');
    else delete out.cookie;
  }
  // The client as the broker sees it: the socket's peer, or with `trustProxy` the address the
  // trusted proxies name (fastify's req.ip / req.protocol / req.host follow that setting).
  out['x-forwarded-for'] = req.ip;
  out['x-forwarded-proto'] = req.protocol;
  out['x-forwarded-host'] = req.host;
  out['x-real-ip'] = req.ip;
  out.forwarded = `for=${forwardedFor(req.ip)};proto=${req.protocol};host="${req.host.replace(/["\\]/g, '')}"`;
  out['x-request-id'] = String(req.id);
  if (who) {
    out[cfg.headers.userId.toLowerCase()] = who.userId;
    if (who.email) out[cfg.headers.email.toLowerCase()] = who.email;
    out[cfg.headers.roles.toLowerCase()] = who.roles.join(',');
    if (who.tenant) out[cfg.headers.tenant.toLowerCase()] = who.tenant;
    if (internalJwt) out[cfg.internalJwt.header.toLowerCase()] = internalJwt;
  }
  return out;
}
