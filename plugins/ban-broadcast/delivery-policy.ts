/**
 * What to do after one attempt. The seed's "retry once on 5xx" is the floor; by default we retry
 * 5xx, 429 and network failures with exponential backoff and full jitter until a horizon, honour
 * Retry-After (RFC 9110 §10.2.3), disable the endpoint on 410 Gone, and treat other 4xx and every
 * 3xx (never followed: a redirect could point a signed notification anywhere) as permanent.
 */
export interface RetrySettings {
  /** First retry delay (ms); doubles each attempt. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** Give up when the next attempt would start later than this after the round's first attempt. */
  horizonMs: number;
}

export type AttemptResult =
  | { kind: 'response'; status: number; retryAfter: string | null; body: string; durationMs: number }
  | { kind: 'network'; error: string; durationMs: number }
  | { kind: 'refused'; error: string; durationMs: number };

export type Decision =
  | { outcome: 'delivered' }
  | { outcome: 'retry'; error: string; notBeforeMs: number }
  | { outcome: 'permanent'; error: string }
  | { outcome: 'gone' };

/** Success per format: Standard Webhooks takes any 2xx; RFC 8935 §2.2 says 202, other 2xx are still an acknowledgement. */
export function decide(r: AttemptResult): Decision {
  if (r.kind === 'refused') return { outcome: 'permanent', error: r.error };
  if (r.kind === 'network') return { outcome: 'retry', error: r.error, notBeforeMs: 0 };
  const s = r.status;
  if (s >= 200 && s < 300) return { outcome: 'delivered' };
  if (s === 410) return { outcome: 'gone' };
  if (s === 429 || s >= 500) return { outcome: 'retry', error: `http_${s}`, notBeforeMs: retryAfterMs(r.retryAfter) };
  if (s >= 300 && s < 400) return { outcome: 'permanent', error: `redirect_not_followed_${s}` };
  return { outcome: 'permanent', error: `http_${s}` };
}

/** Retry-After is delay-seconds or an HTTP-date (RFC 9110 §10.2.3). Returns ms from now (0 when absent or bad). */
export function retryAfterMs(value: string | null, now = Date.now()): number {
  if (!value) return 0;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - now) : 0;
}

/**
 * When the attempt after `attempt` (1-based) should start, or null when that is past the horizon.
 * Full jitter (a random point in [0, cap]) spreads a thundering herd of retries after an outage;
 * a floor of half the cap keeps the backoff meaningful.
 */
export function nextAttemptAt(
  settings: RetrySettings,
  attempt: number,
  now: number,
  roundStartedAt: number,
  notBeforeMs: number,
  random: () => number = Math.random,
): number | null {
  const cap = Math.min(settings.maxDelayMs, settings.initialDelayMs * 2 ** (attempt - 1));
  const delay = Math.max(cap / 2 + random() * (cap / 2), notBeforeMs);
  const at = now + Math.round(delay);
  return at - roundStartedAt > settings.horizonMs ? null : at;
}
