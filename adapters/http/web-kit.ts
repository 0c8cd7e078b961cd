import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  DomainError,
  LoginContinues,
  sessionIdFromToken,
  type AuthenticatedIdentity,
  type Clock,
  type Ids,
  type LoginRequest,
  type LoginService,
  type ReadModels,
  type SessionView,
} from '../../core/index.js';
import { html, layout, type SafeHtml } from './html.js';
import { sendError, sendErrorPage } from './errors.js';
import { AdminGuard, type AdminPrincipal } from './admin-guard.js';
import { csrfTokenFor } from './session-csrf.js';

/**
 * This request's cookies, parsed on first use (by @fastify/cookie's own parser, with its options)
 * and kept on `req.cookies`. The kernel registers @fastify/cookie without its parsing hook: most requests (API calls, token endpoints, proxied
 * traffic) read no cookie, and a hook phase on every request costs more here than the parse itself.
 * A scope that hands `req.cookies` to code it does not own (@fastify/csrf-protection) parses them
 * in its own onRequest hook with this.
 */
export function requestCookies(req: FastifyRequest): Record<string, string | undefined> {
  const header = req.headers.cookie;
  return ((req as { cookies: Record<string, string | undefined> | null }).cookies ??= header ? req.server.parseCookie(header) : {});
}

export interface CookieSettings {
  /** `__Host-` cookie, Secure. False only in the documented dev mode (plain http on localhost). */
  secure: boolean;
}

/**
 * What the kernel hands every plugin as `ctx.web`: its own encapsulated fastify scope plus the
 * browser side of the login flow, so no plugin re-implements cookies, redirects or pages.
 */
export interface WebKit {
  /** The plugin's encapsulated fastify scope: register routes here. */
  readonly app: FastifyInstance;
  readonly cookieName: string;
  /** This request's cookies, parsed on first use (see requestCookies). `req.cookies` is null until then. */
  cookies(req: FastifyRequest): Record<string, string | undefined>;
  /** The broker session behind this request's cookie, or null. */
  session(req: FastifyRequest): SessionView | null;
  /**
   * A downstream protocol needs a user: resume at once when the browser has a session (and the
   * request does not force a login), otherwise send it to the login page carrying the request.
   */
  beginLogin(req: FastifyRequest, reply: FastifyReply, request: Omit<LoginRequest, 'iat' | 'exp' | 'jti'>): Promise<FastifyReply>;
  /** An identity provider vouched for someone: complete the login, set the cookie, resume. */
  finishLogin(
    req: FastifyRequest,
    reply: FastifyReply,
    identity: AuthenticatedIdentity,
    loginRequestToken: string | undefined,
    idpId: string,
    plugin?: string,
  ): Promise<FastifyReply>;
  /** Decodes a login request token (throws a DomainError when forged or expired). */
  decodeLoginRequest(token: string): LoginRequest;
  page(reply: FastifyReply, title: string, body: SafeHtml, status?: number): FastifyReply;
  errorPage(reply: FastifyReply, status: number, title: string, message: string): FastifyReply;
  sendError(req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply;
  setSessionCookie(reply: FastifyReply, token: string, maxAgeSeconds: number): void;
  clearSessionCookie(reply: FastifyReply): void;
  /**
   * Lets only an administrator through: an admin's browser session (with the session-bound CSRF
   * token on anything but GET/HEAD) or an admin API token from `admin.apiTokens`. Returns who it is,
   * or null after sending the refusal (login redirect, 401 or 403). See adapters/http/admin-guard.ts.
   */
  requireAdmin(req: FastifyRequest, reply: FastifyReply): Promise<AdminPrincipal | null>;
  /** The session-bound CSRF token for this request's session (put it in forms as `_csrf`), or null. */
  csrfToken(req: FastifyRequest): string | null;
}

/** Who counts as an admin: the read models (a user's `admin` flag) and the config's admin API tokens. */
export interface AdminSettings {
  read: ReadModels;
  apiTokens: { name: string; tokenHash: string }[];
}

export function createWebKitFactory(login: LoginService, clock: Clock, ids: Ids, cookie: CookieSettings, admin?: AdminSettings) {
  const cookieName = cookie.secure ? '__Host-broker_session' : 'broker_session';

  // Sliding idle window: a session in use records `SessionRefreshed` (at most once per tenth of
  // the idle window, see LoginService.needsRefresh), in the background and once per session at a
  // time, so the per-request check stays a hash and map look-ups.
  const refreshing = new Set<string>();
  const session = (req: FastifyRequest): SessionView | null => {
    const token = requestCookies(req)[cookieName];
    const now = clock.now().getTime(); // one clock read for both checks
    const s = login.validateSession(token, now);
    if (s && !refreshing.has(s.sessionId) && login.needsRefresh(s, now)) {
      refreshing.add(s.sessionId);
      login
        .refresh(s)
        .catch((err: unknown) => req.log.warn({ err }, 'session refresh failed'))
        .finally(() => refreshing.delete(s.sessionId));
    }
    return s;
  };

  const setSessionCookie = (reply: FastifyReply, token: string, maxAgeSeconds: number): void => {
    reply.setCookie(cookieName, token, { path: '/', httpOnly: true, secure: cookie.secure, sameSite: 'lax', maxAge: maxAgeSeconds });
  };
  const clearSessionCookie = (reply: FastifyReply): void => {
    reply.clearCookie(cookieName, { path: '/', httpOnly: true, secure: cookie.secure, sameSite: 'lax' });
  };

  const resume = async (reply: FastifyReply, request: LoginRequest, s: SessionView): Promise<FastifyReply> => {
    const protocol = login.protocols.get(request.protocol);
    if (!protocol) return sendErrorPage(reply, 400, 'Unknown request', 'The site that sent you here is not configured.');
    const action = await protocol.resume(request, s);
    if (action.kind === 'redirect') return reply.redirect(action.location, 303);
    return reply
      .code(action.status ?? 200)
      .type('text/html; charset=utf-8')
      .send(action.html);
  };

  return (app: FastifyInstance): WebKit => {
    let guard: AdminGuard | null = null;
    const kit: WebKit = {
      app,
      cookieName,
      cookies: requestCookies,
      session,
      setSessionCookie,
      clearSessionCookie,
      decodeLoginRequest: (token) => login.requests.decode(token, clock.now()),
      async beginLogin(req, reply, request) {
        const now = clock.now();
        const s = request.forceLogin ? null : session(req);
        const token = login.requests.encode(request, now, ids.token(12));
        if (s) return resume(reply, login.requests.decode(token, now), s);
        return reply.redirect(`/login?lr=${encodeURIComponent(token)}`, 303);
      },
      async finishLogin(req, reply, identity, loginRequestToken, idpId, plugin) {
        try {
          const request = loginRequestToken ? login.requests.decode(loginRequestToken, clock.now()) : null;
          const out = await login.complete(identity, {
            ip: req.ip,
            userAgent: String(req.headers['user-agent'] ?? ''),
            idp: idpId,
            loginRequest: loginRequestToken,
            ...(plugin ? { plugin } : {}),
          });
          // A login over an existing session ends the old one (recorded, so back-channel logout
          // tells its clients): the overwritten cookie must not stay a live credential elsewhere.
          const previous = requestCookies(req)[cookieName];
          if (previous && previous.length <= 200) {
            const old = sessionIdFromToken(previous);
            if (old !== out.session.sessionId) await login.endSession(old, 'replaced_by_login', `user:${out.userId}`);
          }
          setSessionCookie(reply, out.sessionToken, login.sessionSettings.absoluteSeconds);
          if (!request) return reply.redirect('/', 303);
          return await resume(reply, request, out.session);
        } catch (err) {
          // One more step first (a second factor, an enrolment): the step finishes the login itself.
          if (err instanceof LoginContinues) return reply.redirect(err.location, 303);
          if (err instanceof DomainError && (err.code === 'banned' || err.code === 'disabled' || err.code === 'not_provisioned')) {
            return sendErrorPage(
              reply,
              403,
              err.code === 'banned' ? 'Account banned' : err.code === 'disabled' ? 'Account disabled' : 'No account',
              err.message,
            );
          }
          return sendError(req, reply, err);
        }
      },
      page: (reply, title, body, status = 200) => reply.code(status).type('text/html; charset=utf-8').send(layout(title, body)),
      errorPage: sendErrorPage,
      sendError,
      requireAdmin(req, reply) {
        guard ??= new AdminGuard(kit, admin?.read ?? emptyAdmins, admin?.apiTokens ?? []);
        return guard.check(req, reply);
      },
      csrfToken: (req) => csrfTokenFor(req, cookieName),
    };
    return kit;
  };
}

// With no admin settings (a kit built outside the kernel), nobody is an admin.
const emptyAdmins = { users: { get: () => undefined } } as unknown as ReadModels;

export { html };
