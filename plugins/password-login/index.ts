import fastifyCsrf from '@fastify/csrf-protection';
import fastifyRateLimit from '@fastify/rate-limit';
import { DomainError, type Plugin } from '../../plugin/index.js';
import { TOKENS } from '../../adapters/kernel/tokens.js';
import { PasswordHasher } from '../../adapters/crypto/password-hasher.js';
import { RecoveryCodes } from '../../adapters/crypto/recovery-codes.js';
import { configSchema, type PasswordLoginConfig } from './config.js';
import { LockoutView } from './lockout-view.js';
import { MfaTickets } from './mfa-ticket.js';
import { IDP_ID, ISSUER, type Deps } from './deps.js';
import { registerLoginRoutes } from './login-routes.js';
import { registerTotpRoutes } from './totp-routes.js';
import { registerRegistrationRoutes } from './register-routes.js';
import { registerResetRoutes } from './reset-routes.js';

/**
 * The password identity provider: Argon2id, TOTP second factor with recovery codes, optional
 * self-registration, per-IP throttling and a per-account lockout driven by `LoginFailed` events.
 * See README.md beside this file.
 */
const plugin: Plugin<PasswordLoginConfig> = {
  name: 'password-login',
  configSchema,
  events: ['MfaTicketUsed'],
  streams: ['mfa-ticket-'],
  privileges: ['credentials', 'mail'],
  async register(ctx) {
    const keys = ctx.keys;
    const app = ctx.web.app;
    const secure = ctx.web.cookieName.startsWith('__Host-');
    const deps: Deps = {
      ctx,
      hasher: new PasswordHasher(ctx.config.argon2),
      totp: ctx.services.get(TOKENS.Totp)(ctx.config.totpIssuer),
      recovery: new RecoveryCodes(keys.derive('recovery-code')),
      lockout: new LockoutView(ISSUER, ctx.config.lockout),
      tickets: new MfaTickets(keys.derive('password-mfa-ticket'), ctx.store, ctx.ids),
    };
    ctx.add.projection(deps.lockout);

    // Login CSRF (an attacker logging a victim into the attacker's account) is stopped by a
    // double-submit token: the forms come before any session exists, so it cannot be session-bound.
    // @fastify/csrf-protection reads `req.cookies` itself; the kernel parses cookies only on demand.
    app.addHook('onRequest', (req, _reply, done) => {
      ctx.web.cookies(req);
      done();
    });
    await app.register(fastifyCsrf, {
      cookieKey: secure ? '__Host-broker_csrf' : 'broker_csrf',
      cookieOpts: { path: '/', httpOnly: true, sameSite: 'strict', secure, signed: false },
      getToken: (req) => (req.body as { _csrf?: string } | undefined)?._csrf,
    });
    app.addHook('preValidation', (req, reply, done) => (req.method === 'POST' ? app.csrfProtection(req, reply, done) : done()));
    // Per-IP throttle on the POST routes (online guessing); the per-account lockout covers the
    // distributed case. In memory per node, by design: it is a speed bump, the lockout is the wall.
    await app.register(fastifyRateLimit, {
      global: false,
      errorResponseBuilder: () => new DomainError('rate_limited', 'Too many attempts from your address. Wait a minute and try again.'),
    });
    const postLimit = { rateLimit: { max: ctx.config.rateLimit.max, timeWindow: ctx.config.rateLimit.windowSeconds * 1000 } };

    registerLoginRoutes(app, deps, postLimit);
    registerTotpRoutes(app, deps, postLimit);
    if (ctx.config.selfRegistration) registerRegistrationRoutes(app, deps, postLimit);
    registerResetRoutes(app, deps, ctx.services.get(TOKENS.PasswordLinks), ctx.services.get(TOKENS.Mailer), postLimit);

    ctx.add.identityProvider({
      id: IDP_ID,
      displayName: 'Email and password',
      protocol: 'password',
      interactive: true,
      loginPath: (lr) => `/password/login?lr=${encodeURIComponent(lr)}`,
    });
  },
};

export default plugin;
