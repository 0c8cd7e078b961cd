import fastifyRateLimit from '@fastify/rate-limit';
import { DomainError } from '../../core/index.js';
import type { Plugin } from '../../adapters/kernel/boot.js';
import { TOKENS } from '../../adapters/kernel/tokens.js';
import type { Keys } from '../../adapters/kernel/master-key.js';
import type { BrokerConfig } from '../../config/types.js';
import { PasswordHasher } from '../../adapters/crypto/password-hasher.js';
import { TotpService } from '../../adapters/crypto/totp.js';
import { configSchema, type AdminConfig } from './config.js';
import { SetupTokens } from './setup-tokens.js';
import { registerSetupRoutes } from './setup-routes.js';
import { AdminGuard } from './auth.js';
import { registerUserRoutes } from './user-routes.js';

/**
 * Administration: first-run setup from a one-time URL (seed 000), the admin pages (users, a
 * user's profile, sessions and timeline, ban/unban/disable/enable) and the JSON admin API.
 * Admins log in through the configured identity providers (normally `password-login`).
 */
const plugin: Plugin<AdminConfig> = {
  name: 'admin',
  configSchema,
  async register(ctx) {
    const keys = ctx.container.get<Keys>(TOKENS.Keys);
    const brokerConfig = ctx.container.get<BrokerConfig>(TOKENS.Config);
    const app = ctx.web.app;
    const tokens = new SetupTokens(ctx.store, ctx.clock, ctx.ids);
    // Same key purpose as the password IdP: the first admin's TOTP secret is read back there.
    const totp = new TotpService(ctx.store, keys.derive('totp-secret'), ctx.clock, ctx.config.totpIssuer);

    await app.register(fastifyRateLimit, {
      global: false,
      errorResponseBuilder: () => new DomainError('rate_limited', 'Too many attempts from your address. Wait a minute and try again.'),
    });
    registerSetupRoutes(app, { ctx, hasher: new PasswordHasher(ctx.config.argon2), totp, tokens });
    registerUserRoutes(app, ctx, new AdminGuard(ctx.web, ctx.read, brokerConfig.admin?.apiTokens ?? []));

    // At start, once the read models have caught up (reactors start after that): no admin yet
    // means a new one-time setup URL, printed to the log and to stdout. Only its hash is stored.
    ctx.add.reactor({
      name: 'admin.first-run-setup',
      async start() {
        const hasAdmin = [...ctx.read.users.byId.values()].some((u) => u.admin && !u.erased);
        if (hasAdmin || (await tokens.bootstrapped())) return;
        const token = await tokens.issue(ctx.config.setup.ttlSeconds);
        const url = `${ctx.baseUrl}/admin/setup?token=${token}`;
        ctx.logger.warn({ setupUrl: url }, 'no administrator yet: open the one-time setup URL to create the first one');
        if (ctx.config.setup.printToStdout) process.stdout.write(`\nNo administrator yet. Create the first one here (works once):\n  ${url}\n\n`);
      },
      stop() {},
    });
  },
};

export default plugin;
