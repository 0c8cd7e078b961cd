import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type DomainErrorCode } from '../../core/index.js';
import { html, layout } from './html.js';

/** The one place domain errors become HTTP: status + problem+json (RFC 9457) or an error page. */
export const STATUS: Record<DomainErrorCode, number> = {
  invalid_input: 400,
  not_found: 404,
  conflict: 409,
  unauthenticated: 401,
  forbidden: 403,
  banned: 403,
  disabled: 403,
  not_provisioned: 403,
  rate_limited: 429,
  expired: 400,
  replayed: 400,
  bad_signature: 400,
};

const TITLES: Record<DomainErrorCode, string> = {
  invalid_input: 'Invalid request',
  not_found: 'Not found',
  conflict: 'Conflict',
  unauthenticated: 'Not logged in',
  forbidden: 'Forbidden',
  banned: 'Account banned',
  disabled: 'Account disabled',
  not_provisioned: 'No account',
  rate_limited: 'Too many attempts',
  expired: 'Expired',
  replayed: 'Already used',
  bad_signature: 'Invalid signature',
};

export function wantsHtml(req: FastifyRequest): boolean {
  const accept = String(req.headers.accept ?? '');
  return accept.includes('text/html');
}

export function sendProblem(
  reply: FastifyReply,
  status: number,
  code: string,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
): FastifyReply {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: `urn:broker:error:${code}`, title, status, detail, code, ...extra });
}

export function sendErrorPage(reply: FastifyReply, status: number, title: string, message: string): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(layout(title, html`<h1>${title}</h1><p class="error">${message}</p>`));
}

const STATUS_TITLES: Record<number, string> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  406: 'Not acceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'Request too large',
  415: 'Unsupported media type',
  429: 'Too many requests',
};

export function sendError(req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof DomainError) {
    const status = STATUS[err.code] ?? 400;
    if (wantsHtml(req)) return sendErrorPage(reply, status, TITLES[err.code], err.message);
    return sendProblem(reply, status, err.code, TITLES[err.code], err.message, err.details ? { details: err.details } : {});
  }
  const fe = err as FastifyError;
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code = fe.validation ? 'invalid_input' : (fe.code ?? 'bad_request').toLowerCase();
    const detail = fe.validation ? `${fe.validationContext ?? 'request'}${fe.message.replace(/^[a-z]+/, '')}` : fe.message;
    // The title says what the status means (a 404 is "Not found", not "Bad request").
    const title = STATUS_TITLES[fe.statusCode] ?? 'Bad request';
    if (wantsHtml(req)) return sendErrorPage(reply, fe.statusCode, title, detail);
    return sendProblem(reply, fe.statusCode, code, title, detail);
  }
  req.log.error({ err }, 'unhandled error');
  if (wantsHtml(req)) return sendErrorPage(reply, 500, 'Something went wrong', 'The broker could not complete this request.');
  return sendProblem(reply, 500, 'internal', 'Internal error', 'The broker could not complete this request.');
}
