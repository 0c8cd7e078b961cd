import fastifyRateLimit from '@fastify/rate-limit';
import { DomainError, type Plugin, AdminGuard } from '../../plugin/index.js';
import { TOKENS } from '../../adapters/kernel/tokens.js';
import { PasswordHasher } from '../../adapters/crypto/password-hasher.js';
import { RecoveryCodes } from '../../adapters/crypto/recovery-codes.js';
import { configSchema, type AdminConfig } from './config.js';
import { SetupTokens } from './setup-tokens.js';
import { registerSetupRoutes } from './setup-routes.js';
import { FIRST_RUN_SETUP, firstRunSetup } from './first-run-setup.js';
import { registerConsole } from './console/register.js';

/**
 * Administration: first-run setup from a one-time URL (seed 000), the operator console (dashboard,
 * users, a user's page, sites, OAuth clients, identity providers, the event log; see console/)
 * and the JSON admin API.
 * Admins log in through the configured identity providers (normally `password-login`).
 */
const plugin: Plugin<AdminConfig> = {
  name: 'admin',
  configSchema,
  events: ['SetupTokenIssued', 'AdminBootstrapped'],
  streams: ['admin-setup'],
  // The operator's powers, documented in core/kernel/plugin.ts (PluginPrivilege).
  privileges: ['user-admin', 'credentials', 'mail', 'console'],
  async register(ctx) {
    const keys = ctx.keys;
    const app = ctx.web.app;
    const tokens = new SetupTokens(ctx.store, ctx.clock, ctx.ids);
    // Same key purpose as the password IdP: the first admin's TOTP secret is read back there.
    const totp = ctx.services.get(TOKENS.Totp)(ctx.config.totpIssuer);

    await app.register(fastifyRateLimit, {
      global: false,
      errorResponseBuilder: () => new DomainError('rate_limited', 'Too many attempts from your address. Wait a minute and try again.'),
    });
    // Same key purpose as the password IdP, which checks the codes at login.
    registerSetupRoutes(app, {
      ctx,
      hasher: new PasswordHasher(ctx.config.argon2),
      totp,
      recovery: new RecoveryCodes(keys.derive('recovery-code')),
      tokens,
    });
    registerConsole(ctx, new AdminGuard(ctx.web, ctx.read, ctx.services.get(TOKENS.AdminApiTokens)));

    const { printUrl, printToStdout, ttlSeconds } = ctx.config.setup;
    const setup = firstRunSetup({
      tokens,
      read: ctx.read,
      logger: ctx.logger,
      baseUrl: ctx.baseUrl,
      ttlSeconds,
      nodeId: ctx.cluster.nodeId,
      console: printUrl && printToStdout !== false ? process.stderr : null,
    });
    ctx.add.reactor(setup);
    ctx.services.provide(FIRST_RUN_SETUP, setup);
  },
};

export default plugin;
