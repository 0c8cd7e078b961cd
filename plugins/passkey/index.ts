import fastifyRateLimit from '@fastify/rate-limit';
import { DomainError, type Plugin } from '../../plugin/index.js';
import { RecoveryCodes } from '../../adapters/crypto/recovery-codes.js';
import { Challenges } from './challenges.js';
import { configSchema, type PasskeyConfig } from './config.js';
import { IDP_ID, type Deps } from './deps.js';
import { passkeyStep } from './login-step.js';
import { registerLoginRoutes } from './login-routes.js';
import { registerManageRoutes } from './manage-routes.js';
import { PasskeysView } from './passkeys-view.js';
import { relyingParty } from './rp.js';
import { registerStepRoutes } from './step-routes.js';
import { StepTickets } from './step-ticket.js';

/**
 * Passkeys (WebAuthn Level 3 through @simplewebauthn/server): log in with a discoverable
 * credential alone, or as the second factor after a password; manage them from /passkey/manage;
 * an optional policy that makes them required (a login without one is sent to enrol). See
 * README.md beside this file.
 */
const plugin: Plugin<PasskeyConfig> = {
  name: 'passkey',
  configSchema,
  events: ['PasskeyRegistered', 'PasskeyUsed', 'PasskeyCounterRejected', 'PasskeyRenamed', 'PasskeyRemoved', 'PasskeyStepUsed'],
  streams: ['passkey-'],
  // Recovery codes (a credential) and the second-factor step that resumes another IdP's login.
  privileges: ['credentials', 'login-step'],
  async register(ctx) {
    const rp = relyingParty(ctx.baseUrl, { rpId: ctx.config.rpId, name: ctx.config.rpName }); // a clear start error when browsers could not use it
    const keys = ctx.keys;
    const view = new PasskeysView();
    ctx.add.projection(view);
    // Per-IP throttle on the login ceremonies (log spam, recovery-code guessing); a signature cannot be guessed anyway.
    await ctx.web.app.register(fastifyRateLimit, {
      global: false,
      errorResponseBuilder: () => new DomainError('rate_limited', 'Too many attempts from your address. Wait a minute and try again.'),
    });
    const d: Deps = {
      ctx,
      view,
      challenges: new Challenges(ctx.clock),
      rp,
      tickets: new StepTickets(keys.derive('passkey-step'), ctx.store, ctx.ids),
      // The same keyed hashes as the password plugin's TOTP recovery codes: one set of codes per account.
      recovery: new RecoveryCodes(keys.derive('recovery-code')),
      postLimit: { config: { rateLimit: { max: ctx.config.rateLimit.max, timeWindow: ctx.config.rateLimit.windowSeconds * 1000 } } },
    };
    registerLoginRoutes(d);
    registerManageRoutes(d);
    registerStepRoutes(d);
    ctx.add.enricher(passkeyStep(ctx.config, view, d.tickets, ctx.clock));
    ctx.add.identityProvider({
      id: IDP_ID,
      displayName: 'Passkey',
      protocol: 'webauthn',
      interactive: true,
      loginPath: (lr) => `/passkey/login?lr=${encodeURIComponent(lr)}`,
      accountLink: { path: '/passkey/manage', label: 'Passkeys' },
    });
  },
};

export default plugin;
