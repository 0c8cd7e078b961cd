import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Bindings, ChildLoggerOptions, Logger, LoggerOptions } from 'pino';

/**
 * The broker's pino options, in one place so the kernel and the tests use the same ones.
 * Secrets never reach the logs (CONVENTIONS): cookies, authorization headers, passwords, tokens
 * and secrets are censored wherever the usual shapes put them, and query strings (OAuth codes,
 * handoff tokens, signed login requests travel there) keep their keys but lose their values.
 */
export const REDACT_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.cookie',
  'headers.authorization',
  '*.headers.cookie',
  '*.headers.authorization',
  'password',
  'token',
  'secret',
  'client_secret',
  '*.password',
  '*.token',
  '*.secret',
  '*.client_secret',
  '*.*.password',
  '*.*.secret',
];

/** `/cb?code=abc&state=xyz` → `/cb?code=[redacted]&state=[redacted]`. */
export function redactQuery(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .filter(Boolean)
    .map((p) => `${p.split('=')[0]}=[redacted]`);
  return `${url.slice(0, q)}?${params.join('&')}`;
}

interface LoggedRequest {
  method: string;
  url: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** Fastify's request fields minus the query values. */
export function requestSerializer(req: LoggedRequest): Record<string, unknown> {
  return { method: req.method, url: redactQuery(req.url), host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort };
}

export function brokerLoggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { req: requestSerializer as (req: unknown) => Record<string, unknown> },
  };
}

type LogFn = (...args: unknown[]) => void;
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

// The six level methods are added to the prototype below, all alike.
interface LazyChildLogger extends Record<(typeof LEVELS)[number], LogFn> {}

/** A request's logger that becomes pino's child on its first log call at an enabled level. */
class LazyChildLogger {
  private real: Logger | undefined;
  constructor(
    private readonly parent: Logger,
    private readonly bindingsOf: Bindings,
    private readonly opts: ChildLoggerOptions,
  ) {}
  private get target(): Logger {
    return (this.real ??= this.parent.child(this.bindingsOf, this.opts));
  }
  get level(): string {
    return (this.real ?? this.parent).level;
  }
  set level(l: string) {
    this.target.level = l;
  }
  isLevelEnabled(l: string): boolean {
    return (this.real ?? this.parent).isLevelEnabled(l);
  }
  child(b: Bindings, o?: ChildLoggerOptions): Logger {
    return this.target.child(b, o);
  }
  bindings(): Bindings {
    return this.target.bindings();
  }
  silent(): void {}
  log(level: (typeof LEVELS)[number], args: unknown[]): void {
    if (this.isLevelEnabled(level)) (this.target[level] as LogFn)(...args);
  }
}
for (const level of LEVELS) {
  LazyChildLogger.prototype[level] = function (this: LazyChildLogger, ...args: unknown[]) {
    this.log(level, args);
  };
}

/**
 * Fastify builds a pino child logger (bindings serialised, redaction set up) for every request,
 * whether or not anything is logged: measured ~2 µs of CPU per request here, a tenth of a bare
 * fastify request. This one builds the child on the first log call at an enabled level, so a
 * request that logs nothing costs one small object; a request that logs gets exactly pino's child
 * (same bindings, same `reqId`). Routes with their own log level or serializers get the real child at once.
 */
export function lazyChildLoggerFactory(logger: Logger, bindings: Bindings, opts: ChildLoggerOptions): Logger {
  if (opts && (opts.level !== undefined || opts.serializers !== undefined)) return logger.child(bindings, opts);
  return new LazyChildLogger(logger, bindings, opts) as unknown as Logger;
}

/**
 * Fastify's two lines per request ("incoming request", "request completed"), built only when the
 * request's logger would write them. Fastify builds their objects, a rest-argument array and the
 * response time for every request and leaves the level check to pino; at `warn` and above (or
 * `silent`) that is work for nothing on every request. The lines, when written, are fastify's own.
 */
export class LevelAwareLogController extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (writes(request.log, 'info')) super.incomingRequest(request, reply, metadata);
  }
  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (writes(reply.log, error ? 'error' : 'info')) super.requestCompleted(error, request, reply, metadata);
  }
}
// Pino's loggers and LazyChildLogger have isLevelEnabled; anything else is asked to log as before.
const writes = (log: unknown, level: string): boolean => {
  const l = log as Partial<Pick<Logger, 'isLevelEnabled'>>;
  return typeof l.isLevelEnabled !== 'function' || l.isLevelEnabled(level);
};
