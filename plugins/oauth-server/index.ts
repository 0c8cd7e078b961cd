import type { Plugin } from '../../plugin/index.js';
import { TOKENS } from '../../adapters/kernel/tokens.js';
import { configSchema, type OAuthServerConfig } from './config.js';
import { ClientRegistry } from './clients.js';
import { OAuthGrantsView } from './grants-view.js';
import { CodeCodec } from './codes.js';
import { TokenService } from './tokens.js';
import { GrantService } from './grants.js';
import { registerAuthorize } from './authorize.js';
import { registerEndpoints } from './endpoints.js';
import { registerDiscovery } from './discovery.js';
import { registerLogout } from './logout.js';
import { BackChannelLogout } from './backchannel.js';
import { ClientSync } from './client-sync.js';
import { oauthConsoleSource } from './console-source.js';
import { OAUTH_EVENTS } from './events.js';

/**
 * The broker as an OAuth 2.0 / OpenID Connect authorization server (OAuth 2.1 profile, RFC 9700).
 * A DownstreamProtocol named `oauth`: /oauth/authorize hands the browser to the central login and
 * resumes here with a session. See README.md for configuration.
 */
const plugin: Plugin<OAuthServerConfig> = {
  name: 'oauth-server',
  configSchema,
  events: OAUTH_EVENTS,
  streams: ['grant-', 'consent-', 'oauth-at-', 'oauth-bcl-', 'client-'],
  privileges: ['signing'],
  register(ctx) {
    const cfg = ctx.config;
    const issuer = (cfg.issuer ?? ctx.baseUrl).replace(/\/$/, '');
    const audience = cfg.audience ?? `${issuer}/api`;
    const keys = ctx.keys;
    const signing = ctx.services.get(TOKENS.SigningKeys);
    const clients = new ClientRegistry(
      cfg.clients,
      keys.derive('oauth-client-secret'),
      ctx.clock,
      `${issuer}/oauth/token`,
      issuer,
      ctx.store,
    );
    const view = new OAuthGrantsView();
    ctx.add.projection(view);
    const tokens = new TokenService(signing, ctx.clock, ctx.read, view, clients, issuer, audience, {
      access: cfg.accessTokenTtlSeconds,
      id: cfg.idTokenTtlSeconds,
    });
    // The gateway verifies broker tokens with TOKENS.SigningKeys and asks this for revocation.
    ctx.services.provide(TOKENS.AccessTokenRevoked, (claims: Record<string, unknown>) => tokens.isRevoked(claims));
    ctx.services.provide(TOKENS.AccessTokenIssuer, issuer);
    const codes = new CodeCodec(keys.derive('oauth-code'));
    const grants = new GrantService(
      ctx.store,
      ctx.commands,
      ctx.projections,
      ctx.read,
      ctx.users,
      tokens,
      codes,
      ctx.clock,
      cfg.refreshTokenTtlSeconds,
    );
    const csrfKey = keys.derive('oauth-csrf');
    ctx.services.provide(TOKENS.ConsoleSource, oauthConsoleSource(clients, view, grants, ctx.clock));

    registerDiscovery(ctx.web.app, issuer, signing, clients);
    const resume = registerAuthorize({
      web: ctx.web,
      clients,
      grants: view,
      codes,
      store: ctx.store,
      projections: ctx.projections,
      clock: ctx.clock,
      ids: ctx.ids,
      issuer,
      codeTtlSeconds: cfg.codeTtlSeconds,
      csrfKey,
      tickets: ctx.login.requests,
    });
    ctx.add.downstreamProtocol({ name: 'oauth', resume });
    registerEndpoints({
      web: ctx.web,
      clients,
      grants,
      tokens,
      keys: signing,
      store: ctx.store,
      projections: ctx.projections,
      read: ctx.read,
      clock: ctx.clock,
    });
    registerLogout({ web: ctx.web, login: ctx.login, keys: signing, clients, issuer, csrfKey });
    ctx.add.reactor(new ClientSync(ctx.store, clients));
    ctx.add.reactor(
      new BackChannelLogout({
        store: ctx.store,
        projections: ctx.projections,
        grants: view,
        clients,
        keys: signing,
        clock: ctx.clock,
        ids: ctx.ids,
        issuer,
        logger: ctx.logger,
      }),
    );
  },
};

export default plugin;
