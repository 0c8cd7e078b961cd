import type { FastifyInstance } from 'fastify';
import { safeReturnTo } from '../../plugin/index.js';
import { MAX_PASSWORD_LENGTH } from '../../adapters/crypto/password-hasher.js';
import { IDP_ID, ISSUER, lockedPage, loginCtx, loginNameKey, passwordIdentity, type Deps } from './deps.js';
import { loginForm, totpForm } from './pages.js';

const WRONG = 'Wrong email or password.';

export function registerLoginRoutes(app: FastifyInstance, d: Deps, postLimit: object): void {
  const { ctx, hasher, lockout, tickets } = d;
  const web = ctx.web;

  app.get<{ Querystring: { lr?: string; return_to?: string } }>(
    '/password/login',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { lr: { type: 'string', maxLength: 8192 }, return_to: { type: 'string', maxLength: 2048 } },
        },
      },
    },
    async (req, reply) => {
      const { lr, return_to } = req.query;
      if (!lr) {
        // Entered directly (a bookmark, the admin pages): go through the core so a browser with a
        // session is sent on at once (SSO) and everyone else comes back here with a login request.
        const target = return_to === undefined ? '/' : safeReturnTo(return_to);
        if (!target) return web.errorPage(reply, 400, 'Invalid return address', 'return_to must be a path on this site.');
        return web.beginLogin(req, reply, { protocol: 'return_to', params: { return_to: target }, idp: IDP_ID });
      }
      const request = web.decodeLoginRequest(lr); // forged or expired: a clear 400 before any form is shown
      if (!request.forceLogin && web.session(req)) return web.beginLogin(req, reply, request); // SSO
      return web.page(reply, 'Log in', loginForm({ lr, csrf: reply.generateCsrf(), registration: ctx.config.selfRegistration }));
    },
  );

  app.post<{ Body: { email: string; password: string; lr?: string } }>(
    '/password/login',
    {
      config: postLimit,
      schema: {
        body: {
          type: 'object',
          required: ['email', 'password'],
          properties: {
            email: { type: 'string', maxLength: 320 },
            password: { type: 'string', maxLength: MAX_PASSWORD_LENGTH },
            lr: { type: 'string', maxLength: 8192 },
            _csrf: { type: 'string', maxLength: 256 },
          },
        },
      },
    },
    async (req, reply) => {
      const { email, password } = req.body;
      const lr = req.body.lr ?? '';
      if (lr) web.decodeLoginRequest(lr);
      const key = loginNameKey(email);
      const again = (status: number, error: string) =>
        web.page(
          reply,
          'Log in',
          loginForm({ lr, csrf: reply.generateCsrf(), email, error, registration: ctx.config.selfRegistration }),
          status,
        );
      const fail = async (userId: string | null, reason: string) => {
        const pos = await ctx.login.recordFailure({ userId, issuer: ISSUER, subject: key, reason }, loginCtx(req));
        await ctx.projections.waitFor(pos); // the next attempt sees this failure in the lockout
      };

      if (lockout.lockedUntil(key, ctx.clock.now())) {
        await hasher.verifyDummy(password); // same cost either way
        await fail(null, 'locked');
        return lockedPage(d, reply);
      }
      const found = ctx.read.users.findByEmail(email);
      const user = found ? await ctx.users.load(found.userId) : null;
      if (!user || !user.userId || !user.passwordHash || user.erased) {
        // Unknown name: the same Argon2 work and the same answer as a wrong password.
        await hasher.verifyDummy(password);
        await fail(user?.userId ?? null, user ? 'no_password' : 'unknown_user');
        return again(401, WRONG);
      }
      if (!(await hasher.verify(user.passwordHash, password))) {
        await fail(user.userId, 'bad_password');
        return again(401, WRONG);
      }
      // The password is right. A banned or disabled account is refused by the core (with a page that
      // says so, recorded as LoginFailed) before any second factor is asked for.
      if (user.totp && !user.banned && !user.disabled) {
        const ticket = tickets.issue({ uid: user.userId, key, lr }, ctx.clock.now());
        return web.page(reply, 'Second factor', totpForm({ ticket, csrf: reply.generateCsrf() }));
      }
      return web.finishLogin(req, reply, passwordIdentity(user.userId, user.email, user.name, ['pwd']), lr || undefined, IDP_ID);
    },
  );
}
