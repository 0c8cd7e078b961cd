import type { LoggerOptions } from 'pino';

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
