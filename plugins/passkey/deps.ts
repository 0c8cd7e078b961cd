import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PluginCtx } from '../../plugin/index.js';
import type { RecoveryCodes } from '../../adapters/crypto/recovery-codes.js';
import type { Challenges } from './challenges.js';
import type { PasskeyConfig } from './config.js';
import type { PasskeysView } from './passkeys-view.js';
import type { RelyingParty } from './rp.js';
import type { StepTickets } from './step-ticket.js';

/** The identity provider id (URLs, login requests) and the issuer a passkey-alone login records. */
export const IDP_ID = 'passkey';
const FLOW_COOKIE = 'broker_passkey_flow';

export interface Deps {
  ctx: PluginCtx<PasskeyConfig>;
  view: PasskeysView;
  challenges: Challenges;
  rp: RelyingParty;
  tickets: StepTickets;
  recovery: RecoveryCodes;
  /** Route options for the pre-session POSTs: the per-IP throttle. */
  postLimit: { config: object };
}

export const loginCtx = (req: FastifyRequest) => ({ ip: req.ip, userAgent: String(req.headers['user-agent'] ?? ''), idp: IDP_ID });

/** Records a refused passkey ceremony as `LoginFailed` (issuer `passkey`, subject the credential id) and waits for it to be read. */
export async function recordFailure(
  d: Deps,
  req: FastifyRequest,
  userId: string | null,
  reason: string,
  credentialId: string | null,
): Promise<void> {
  const pos = await d.ctx.login.recordFailure({ userId, issuer: IDP_ID, subject: credentialId, reason }, loginCtx(req));
  await d.ctx.projections.waitFor(pos);
}

/**
 * The browser flow id: a SameSite=Strict cookie, so a challenge issued to one browser cannot be
 * answered by a form posted from another site (login CSRF). Made on first need when `reply` is given.
 */
export function flowOf(d: Deps, req: FastifyRequest, reply?: FastifyReply): string | null {
  const have = d.ctx.web.cookies(req)[FLOW_COOKIE];
  if (have && /^[\w-]{22}$/.test(have)) return have;
  if (!reply) return null;
  const flow = randomBytes(16).toString('base64url');
  reply.setCookie(FLOW_COOKIE, flow, {
    path: '/passkey',
    httpOnly: true,
    secure: d.ctx.web.cookieName.startsWith('__Host-'),
    sameSite: 'strict',
    maxAge: 600,
  });
  return flow;
}

/** The challenge a client answered, read from its clientDataJSON (checked again, with the origin and type, by the library). */
export function answeredChallenge(clientDataJSON: unknown): string | null {
  if (typeof clientDataJSON !== 'string' || clientDataJSON.length > 8192) return null;
  try {
    const c = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof c.challenge === 'string' ? c.challenge : null;
  } catch {
    return null;
  }
}

/** Parses the `response` form field the page script fills in; null when it is not a JSON object. */
export function parseResponse<T>(text: string): T | null {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as T) : null;
  } catch {
    return null;
  }
}

export const jsonError = (reply: FastifyReply, status: number, error: string, message: string) =>
  reply.code(status).header('cache-control', 'no-store').send({ error, message });
