import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthenticatedIdentity, PluginCtx } from '../../plugin/index.js';
import type { PasswordHasher } from '../../adapters/crypto/password-hasher.js';
import type { TotpService } from '../../adapters/crypto/totp.js';
import type { RecoveryCodes } from '../../adapters/crypto/recovery-codes.js';
import type { PasswordLoginConfig } from './config.js';
import type { LockoutView } from './lockout-view.js';
import type { MfaTickets } from './mfa-ticket.js';

/** The identity provider id (in URLs and login requests) and the issuer it records. */
export const IDP_ID = 'password';
export const ISSUER = 'password';

export interface Deps {
  ctx: PluginCtx<PasswordLoginConfig>;
  hasher: PasswordHasher;
  totp: TotpService;
  recovery: RecoveryCodes;
  lockout: LockoutView;
  tickets: MfaTickets;
}

/**
 * What `LoginFailed.subject` holds for this IdP: a hash of the normalized login name, never the
 * typed text (people type passwords into the name field) — and the lockout key.
 */
export function loginNameKey(email: string): string {
  return 'name-sha256:' + createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 32);
}

export function passwordIdentity(userId: string, email: string | null, name: string | null, amr: string[]): AuthenticatedIdentity {
  return { issuer: ISSUER, subject: userId, userId, email, name, amr };
}

export const loginCtx = (req: FastifyRequest) => ({ ip: req.ip, userAgent: String(req.headers['user-agent'] ?? ''), idp: IDP_ID });

export function lockedPage(d: Deps, reply: FastifyReply): FastifyReply {
  return d.ctx.web.errorPage(reply, 429, 'Too many attempts', 'Too many failed logins for this account. Try again later.');
}
