import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { GatewayConfig } from './config.js';
import type { GatewayIdentity } from './identity.js';

/** Every header name the gateway vouches for, lower-cased. */
export function identityHeaderNames(cfg: GatewayConfig): Set<string> {
  return new Set(
    [cfg.internalJwt.header, cfg.headers.userId, cfg.headers.email, cfg.headers.roles, cfg.headers.tenant, ...cfg.stripHeaders].map((h) => h.toLowerCase()),
  );
}

/**
 * Builds the headers sent upstream. Identity headers that arrive from the client are dropped
 * first (RFC 9700 §4.13's lesson for proxies: a client must never be able to assert identity),
 * the client's `Authorization` is dropped too (the app gets the internal JWT instead), then the
 * gateway's own are set. `Connection` is dropped so a client cannot name our headers as hop-by-hop
 * and have a later hop strip them.
 */
export function upstreamHeaders(
  req: FastifyRequest,
  incoming: IncomingHttpHeaders,
  cfg: GatewayConfig,
  strip: Set<string>,
  who: GatewayIdentity | undefined,
  internalJwt: string | undefined,
): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(incoming)) {
    const name = k.toLowerCase();
    if (strip.has(name) || name === 'authorization' || name === 'connection' || name === 'proxy-connection') continue;
    if (name.startsWith('x-forwarded-')) continue;
    out[name] = v;
  }
  // The broker session cookie is the broker's, not the app's.
  if (typeof out.cookie === 'string') {
    const kept = out.cookie
      .split(';')
      .map((c) => c.trim())
      .filter((c) => c && !/^(__Host-)?broker_session=/.test(c));
    if (kept.length) out.cookie = kept.join('; ');
    else delete out.cookie;
  }
  out['x-forwarded-for'] = req.ip;
  out['x-forwarded-proto'] = req.protocol;
  out['x-forwarded-host'] = req.host;
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
