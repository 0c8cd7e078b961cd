import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { type AddressGuard, PrivateAddressRefused } from './address-guard.js';
import type { AttemptResult } from './delivery-policy.js';

/** Enough of a receiver's answer to record an RFC 8935 error; the rest is read and dropped. */
const KEEP_BODY_BYTES = 2048;

/**
 * POSTs one notification. Redirects are never followed (undici follows none unless asked), the
 * whole exchange (connect, headers, body) is bounded by `timeoutMs`, and the response body is read
 * to its end: a receiver that closes the connection mid-response has not acknowledged anything.
 */
export class HttpSender {
  private agent: Agent;
  private closed = false;

  constructor(
    readonly guard: AddressGuard,
    private readonly timeoutMs: number,
  ) {
    this.agent = new Agent({ connect: { lookup: guard.lookup }, keepAliveTimeout: 10_000, connections: 8 });
  }

  async post(url: string, headers: Record<string, string>, body: string): Promise<AttemptResult> {
    const t0 = performance.now();
    const took = (): number => Math.round(performance.now() - t0);
    let u: URL;
    try {
      u = new URL(url);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') return { kind: 'refused', error: 'unsupported_scheme', durationMs: 0 };
      this.guard.checkHost(u.hostname);
    } catch (err) {
      return { kind: 'refused', error: err instanceof PrivateAddressRefused ? err.code : 'bad_url', durationMs: 0 };
    }
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      // Reopened after a close: the broadcaster starts again after a quarantine is released.
      if (this.closed) {
        this.agent = new Agent({ connect: { lookup: this.guard.lookup }, keepAliveTimeout: 10_000, connections: 8 });
        this.closed = false;
      }
      const res = await request(u, {
        method: 'POST',
        headers: { ...headers, 'user-agent': 'identity-broker-ban-broadcast' },
        body,
        dispatcher: this.agent,
        signal,
      });
      const chunks: Buffer[] = [];
      let kept = 0;
      for await (const chunk of res.body) {
        const b = chunk as Buffer;
        if (kept < KEEP_BODY_BYTES) {
          chunks.push(b.subarray(0, KEEP_BODY_BYTES - kept));
          kept += Math.min(b.length, KEEP_BODY_BYTES - kept);
        }
      }
      const ra = res.headers['retry-after'];
      return {
        kind: 'response',
        status: res.statusCode,
        retryAfter: Array.isArray(ra) ? (ra[0] ?? null) : (ra ?? null),
        body: Buffer.concat(chunks).toString('utf8'),
        durationMs: took(),
      };
    } catch (err) {
      return classifyError(err, signal.aborted, took());
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.agent.close().catch(() => undefined);
  }
}

function classifyError(err: unknown, timedOut: boolean, durationMs: number): AttemptResult {
  if (err instanceof PrivateAddressRefused || (err as { cause?: unknown })?.cause instanceof PrivateAddressRefused) {
    return { kind: 'refused', error: 'private_address_refused', durationMs };
  }
  if (timedOut) return { kind: 'network', error: 'timeout', durationMs };
  const code = String((err as { code?: string })?.code ?? (err as { cause?: { code?: string } })?.cause?.code ?? '');
  const error =
    code === 'ECONNREFUSED'
      ? 'connection_refused'
      : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE'
        ? 'connection_closed'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'dns_failure'
          : code
            ? `network_${code.toLowerCase()}`
            : 'network_error';
  return { kind: 'network', error, durationMs };
}
