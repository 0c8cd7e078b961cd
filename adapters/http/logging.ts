import {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import { randomBytes } from 'node:crypto';
import { pino, type Bindings, type ChildLoggerOptions, type Logger, type LoggerOptions } from 'pino';

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

/** Fastify's `res` serializer: a reply is logged as its status code. */
function replySerializer(reply: { statusCode: number }): Record<string, unknown> {
  return { statusCode: reply.statusCode };
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

// The six level methods are added to the prototype below, all alike; the interface merged into the
// class declares them.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
interface LazyChildLogger extends Record<(typeof LEVELS)[number], LogFn> {}

/** A request's logger that becomes pino's child on its first log call at an enabled level. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
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
  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ): void {
    if (writes(reply.log, error ? 'error' : 'info')) super.requestCompleted(error, request, reply, metadata);
  }
}
// Pino's loggers and LazyChildLogger have isLevelEnabled; anything else is asked to log as before.
const writes = (log: unknown, level: string): boolean => {
  const l = log as Partial<Pick<Logger, 'isLevelEnabled'>>;
  return typeof l.isLevelEnabled !== 'function' || l.isLevelEnabled(level);
};

export interface RequestLogging {
  /** Fastify's options for the broker's logger. */
  options: Pick<FastifyServerOptions, 'loggerInstance' | 'childLoggerFactory' | 'logController'>;
  /** Call once on the root instance, before any plugin is registered. */
  install(app: FastifyInstance): void;
}

/**
 * How fastify gets the broker's logger, by level.
 *
 * - **`info` and below** (`info`, `debug`, `trace`): as fastify's logger (`loggerInstance`), so it
 *   writes its "incoming request" and "request completed" lines, which need its per-request
 *   listeners on the response (to time the finish).
 * - **Above `info`** (`warn`, `error`, `fatal`, `silent`): neither line can be written, and fastify
 *   would still pay those listeners on every request for as long as it holds a logger (a 'finish'
 *   and an 'error' listener added and removed, timestamps: a bare fastify app with them served
 *   ~6 % fewer requests a second, measured). So fastify gets none; the broker's logger is handed
 *   to it where it is used: each request's `req.log` (the lazy child, same `reqId` binding, same
 *   lines) and the instance's `app.log`, a plain property every plugin scope inherits.
 *
 * One line is lost above `info`: fastify's "request errored", which it writes at `error` when
 * node's response object itself emits 'error' (its listener is one of those it no longer adds);
 * errors a handler throws, and failed sends, are logged as before (by the error handler and
 * `reply.log`). The level is read once, at boot (the config's `log.level`): changing the logger's
 * level later would not bring fastify's request lines back. Request metrics time requests on their own
 * (metrics.ts, markRequestStart), not with fastify's listeners.
 */
export function requestLogging(logger: Logger): RequestLogging {
  const logController = new LevelAwareLogController();
  if (logger.isLevelEnabled('info')) {
    return {
      options: {
        loggerInstance: logger as unknown as FastifyBaseLogger,
        childLoggerFactory: lazyChildLoggerFactory as never,
        logController,
      },
      install() {},
    };
  }
  // What fastify makes of a logger it is given: a child carrying its serializers for `req`, `res`
  // and `err` (the logger's own win), so a line in fastify's shape ({ req, res, err }) is written
  // as fastify would write it, whatever serializers the logger came with. Made once, here.
  const own = (logger as unknown as Record<symbol, object | undefined>)[pino.symbols.serializersSym];
  const base = logger.child(
    {},
    { serializers: { req: requestSerializer, res: replySerializer, err: pino.stdSerializers.err, ...own } as never },
  );
  // Fastify passes its null logger as the parent; each request's logger is a child of `base`.
  const childOf = (_fastifyNullLogger: unknown, bindings: Bindings, opts: ChildLoggerOptions): Logger =>
    lazyChildLoggerFactory(base, bindings, opts);
  return {
    options: { childLoggerFactory: childOf as never, logController },
    install(app) {
      (app as { log: FastifyBaseLogger }).log = base as unknown as FastifyBaseLogger;
    },
  };
}

/**
 * Request ids: `<process id>-<sequence>`, e.g. `3f9a0c12d4e7-1z4`: twelve random hex digits (48
 * bits) chosen when the process starts, then a base-36 counter. Unique across the broker's
 * processes and nodes without coordination, so a log aggregator can key on them, and cheap: a
 * random UUID per request cost ~160 ns here, 0.7 % of a bare fastify request, for randomness an
 * id that only correlates log lines (and the gateway's `x-request-id`) has no use for. They are
 * not secrets and grant nothing; they do count this process's requests.
 */
export function requestIds(): () => string {
  const prefix = `${randomBytes(6).toString('hex')}-`;
  let seq = 0;
  return () => prefix + (++seq).toString(36);
}
