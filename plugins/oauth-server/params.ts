import { OAuthError } from './errors.js';

export const MAX_PARAM = 4096;

/**
 * Request parameters as single strings. RFC 6749 §3.1 / §3.2: a parameter sent more than once is
 * invalid; oversized values are refused before any work is done on them.
 */
export function singleParams(src: unknown): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  if (!src || typeof src !== 'object') return out;
  for (const [k, v] of Object.entries(src as Record<string, unknown>)) {
    if (Array.isArray(v)) throw new OAuthError('invalid_request', `parameter ${k.slice(0, 40)} was sent more than once`);
    if (typeof v !== 'string') continue;
    if (v.length > MAX_PARAM) throw new OAuthError('invalid_request', `parameter ${k.slice(0, 40)} is too long`);
    // RFC 6749 §3.1: parameters sent without a value are treated as omitted.
    if (v !== '') out[k] = v;
  }
  return out;
}

export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export function splitScope(scope: string | undefined): string[] | null {
  if (scope === undefined) return [];
  const parts = scope.split(' ').filter(Boolean);
  return parts.every((p) => SCOPE_TOKEN.test(p)) ? [...new Set(parts)] : null;
}

/** Adds parameters to a redirect URI, keeping its own query (RFC 6749 §3.1.2). */
export function withParams(uri: string, params: Record<string, string | undefined | null>): string {
  const u = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) u.searchParams.set(k, v);
  return u.toString();
}
