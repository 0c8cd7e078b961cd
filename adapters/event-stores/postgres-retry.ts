/**
 * Which PostgreSQL failures are about the connection rather than the statement. Only these are
 * retried: a lost connection (server restart, pg_terminate_backend, network) or a server that is
 * still starting. A constraint violation or a syntax error is never retried blindly.
 */
export function isConnectionError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  // 08xxx connection exceptions; 57P01 admin_shutdown (terminate_backend), 57P02 crash_shutdown,
  // 57P03 cannot_connect_now (starting up / shutting down).
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
  if (['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return true;
  const msg = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|not queryable|connection error|timeout exceeded when trying to connect|Client was closed/i.test(msg);
}

/** SQLSTATE 23505 with the name of the violated constraint, or null. */
export function uniqueViolation(err: unknown): string | null {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  if (!e || e.code !== '23505') return null;
  return typeof e.constraint === 'string' ? e.constraint : '';
}

export interface RetryPolicy {
  /** Give up (rethrow the last error) after this long. */
  deadlineMs: number;
  /** First backoff; doubles up to `maxDelayMs`. */
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { deadlineMs: 30_000, initialDelayMs: 20, maxDelayMs: 1_000 };

/**
 * Runs `fn` again after a connection error, with exponential backoff, until it succeeds, fails
 * with another error, `stop()` says so, or the deadline passes. `fn` must be safe to repeat.
 */
export async function retryOnConnectionError<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
  stop: () => boolean = () => false,
  onRetry: (attempt: number, delayMs: number, err: unknown) => void = () => {},
): Promise<T> {
  const deadline = Date.now() + policy.deadlineMs;
  let delay = policy.initialDelayMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isConnectionError(err) || stop() || Date.now() + delay > deadline) throw err;
      onRetry(attempt + 1, delay, err);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, policy.maxDelayMs);
    }
  }
}
