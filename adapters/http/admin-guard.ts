import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem, wantsHtml } from './errors.js';
import { checkSessionCsrf } from './session-csrf.js';
import type { ReadModels } from '../../core/index.js';
import type { WebKit } from './web-kit.js';

export interface AdminPrincipal {
  /** Recorded as the actor of every change: `admin:<userId>` or `admin-token:<name>`. */
  actor: string;
  userId: string | null;
  via: 'session' | 'token';
}

const sha256hex = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Moved here from plugins/admin so every plugin can guard its admin routes the same way: the kernel
 * builds one per broker and hands it out as `ctx.web.requireAdmin` (plugin/index.ts: `requireAdmin`).
 *
 * Who may use the admin pages and API: an admin's browser session (plus the session-bound CSRF
 * token on every change) or an admin API token (`Authorization: Bearer`, RFC 6750 §2.1) whose
 * SHA-256 is in `admin.apiTokens`. A bearer header is never sent by a browser on its own, so
 * token requests need no CSRF token. Anonymous browsers are sent to log in; other users get 403.
 */
export class AdminGuard {
  private readonly tokenHashes: { name: string; hash: Buffer }[];

  constructor(
    private readonly web: WebKit,
    private readonly read: ReadModels,
    apiTokens: { name: string; tokenHash: string }[],
  ) {
    this.tokenHashes = apiTokens
      .filter((t) => /^[0-9a-f]{64}$/i.test(t.tokenHash))
      .map((t) => ({ name: t.name, hash: Buffer.from(t.tokenHash, 'hex') }));
  }

  /** The principal, or null after sending the refusal. */
  async check(req: FastifyRequest, reply: FastifyReply): Promise<AdminPrincipal | null> {
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && /^bearer /i.test(auth)) {
      const given = sha256hex(auth.slice(7).trim());
      let match: string | null = null;
      for (const t of this.tokenHashes) if (timingSafeEqual(given, t.hash) && match === null) match = t.name;
      if (match === null) {
        reply.header('www-authenticate', 'Bearer error="invalid_token"');
        sendProblem(reply, 401, 'unauthenticated', 'Not authenticated', 'The admin API token is not valid.');
        return null;
      }
      return { actor: `admin-token:${match}`, userId: null, via: 'token' };
    }
    const s = this.web.session(req);
    if (!s) {
      if (req.method === 'GET' && wantsHtml(req)) {
        await this.web.beginLogin(req, reply, { protocol: 'return_to', params: { return_to: req.url } });
      } else if (wantsHtml(req)) {
        this.web.errorPage(reply, 401, 'Not logged in', 'Log in as an administrator first.');
      } else {
        sendProblem(reply, 401, 'unauthenticated', 'Not authenticated', 'Log in as an administrator or send an admin API token.');
      }
      return null;
    }
    const user = this.read.users.get(s.userId);
    if (!user?.admin) {
      if (wantsHtml(req)) this.web.errorPage(reply, 403, 'Forbidden', 'Only administrators may open this page.');
      else sendProblem(reply, 403, 'forbidden', 'Forbidden', 'Only administrators may do this.');
      return null;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && !checkSessionCsrf(req, this.web.cookieName)) {
      if (wantsHtml(req)) this.web.errorPage(reply, 403, 'Forbidden', 'The form token is missing or wrong; reload the page and try again.');
      else sendProblem(reply, 403, 'csrf', 'Forbidden', 'The CSRF token (x-csrf-token header or _csrf field) is missing or wrong.');
      return null;
    }
    return { actor: `admin:${s.userId}`, userId: s.userId, via: 'session' };
  }
}
