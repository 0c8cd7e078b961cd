import type { DownstreamProtocol } from '../../core/index.js';

const PROBE_ORIGIN = 'http://return-to.invalid';

/**
 * A `return_to` target is accepted only as a same-origin relative path (open-redirect defence,
 * OWASP "Unvalidated Redirects"): it must start with one `/`, and must not be `//host` or `/\host`
 * (browsers treat both as another origin), nor carry control characters.
 */
export function safeReturnTo(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return null;
  if (!value.startsWith('/') || value.startsWith('//') || value.includes('\\')) return null;
  // Control characters (CR/LF would split a Location header) are refused on purpose.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return null;
  try {
    const u = new URL(value, PROBE_ORIGIN);
    if (u.origin !== PROBE_ORIGIN) return null;
    // Dot segments can normalize into `//host` (`/.//evil.example` → `//evil.example`): check the result too.
    const out = u.pathname + u.search + u.hash;
    return out.startsWith('//') || out.startsWith('/\\') ? null : out;
  } catch {
    return null;
  }
}

/** The downstream "protocol" of the broker's own pages: after login, go back to a local path. */
export const returnToProtocol: DownstreamProtocol = {
  name: 'return_to',
  async resume(request) {
    return { kind: 'redirect', location: safeReturnTo(request.params.return_to) ?? '/' };
  },
};
