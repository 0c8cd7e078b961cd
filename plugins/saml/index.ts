import { AnonymousRefusals, NotFound, type IdentityProvider, type Plugin } from '../../plugin/index.js';
import { samlConfigSchema, type SamlPluginConfig } from './config.js';
import { buildPeer, type SamlPeer } from './entities.js';
import { SamlOneTime } from './one-time.js';
import { SamlRejected } from './errors.js';
import { acceptResponse } from './acs.js';
import { registerSlo } from './slo.js';
import { AUTOPOST_JS, postForm, refuser } from './pages.js';
import { LoginBindings } from './login-binding.js';

const plugin: Plugin<SamlPluginConfig> = {
  name: 'saml',
  events: ['SamlAuthnRequestAnswered', 'SamlAssertionConsumed', 'SamlLogoutRequestConsumed'],
  streams: ['saml-request-', 'saml-assertion-', 'saml-logout-'],
  configSchema: samlConfigSchema,
  async register(ctx) {
    const cfg = ctx.config;
    const oneTime = new SamlOneTime(ctx.store);
    const secure = ctx.web.cookieName.startsWith('__Host-');
    const bindings = new LoginBindings(ctx.keys.derive('saml-login-binding'), cfg.sp.requestTtlSeconds, secure);
    const refuse = refuser(ctx, new AnonymousRefusals(ctx.login, ctx.logger, ctx.clock, cfg.refusalEventsPerSecond, 'SAML refusals'));
    const peers = new Map<string, SamlPeer>();
    for (const idpCfg of cfg.idps) {
      const peer = await buildPeer(idpCfg, cfg.sp, ctx.baseUrl);
      peers.set(idpCfg.name, peer);
      const provider: IdentityProvider = {
        id: peer.id,
        displayName: idpCfg.displayName ?? idpCfg.name,
        protocol: 'saml',
        interactive: true,
        provisioning: idpCfg.provisioning,
        loginPath: (lr) => `/saml/${idpCfg.name}/login?lr=${encodeURIComponent(lr)}`,
      };
      ctx.add.identityProvider(provider);
    }
    const allowedRelays = new Set(cfg.idps.flatMap((i) => (i.idpInitiated?.enabled ? (i.idpInitiated.relayStates ?? []) : [])));
    // IdP-initiated logins resume by going to an allow-listed RelayState once the session exists.
    ctx.add.downstreamProtocol({
      name: 'saml-relay',
      async resume(request) {
        const to = request.params.to;
        if (!to || !allowedRelays.has(to)) return { kind: 'html', status: 400, html: 'The page to return to is not allowed.' };
        return { kind: 'redirect', location: to };
      },
    });

    const app = ctx.web.app;
    const nameParam = { type: 'object', properties: { name: { type: 'string', maxLength: 41 } }, required: ['name'] };
    const peerOf = (name: string): SamlPeer => {
      const p = peers.get(name);
      if (!p) throw new NotFound('Unknown identity provider.');
      return p;
    };

    // An oversized or unparsable body never reaches the handler: record it like any refused message.
    app.setErrorHandler(async (err: { statusCode?: number; code?: string }, req, reply) => {
      const name = (req.params as { name?: string } | undefined)?.name;
      const peer = name ? (peers.get(name) ?? null) : null;
      if (err.statusCode === 413) return refuse(req, reply, peer, new SamlRejected('saml_oversized', 'The SAML message is too large.'));
      if (err instanceof SamlRejected) return refuse(req, reply, peer, err);
      return ctx.web.sendError(req, reply, err);
    });

    app.get('/saml/assets/autopost.js', async (_req, reply) =>
      reply.type('text/javascript').header('cache-control', 'public, max-age=3600').send(AUTOPOST_JS),
    );

    app.get<{ Params: { name: string } }>('/saml/:name/metadata', { schema: { params: nameParam } }, async (req, reply) => {
      const peer = peerOf(req.params.name);
      return reply.type('application/samlmetadata+xml').send(peer.sp.getMetadata());
    });

    app.get<{ Params: { name: string }; Querystring: { lr?: string } }>(
      '/saml/:name/login',
      { schema: { params: nameParam, querystring: { type: 'object', properties: { lr: { type: 'string', maxLength: 8192 } } } } },
      async (req, reply) => {
        const peer = peerOf(req.params.name);
        const lr = req.query.lr || null;
        if (lr) ctx.web.decodeLoginRequest(lr); // refuse a forged or expired request before leaving
        const binding = peer.config.requestBinding ?? 'redirect';
        const out = peer.sp.createLoginRequest(peer.idp, binding) as { id: string; context: string; entityEndpoint?: string };
        // Nothing is written to the event log here (anyone may call this route): the pending login
        // travels in the browser's binding cookie, checked and consumed at the ACS.
        const sealed = await bindings.seal({ idp: peer.id, rid: out.id, lr }, ctx.clock.now());
        reply.setCookie(bindings.cookieName(peer), sealed.value, { ...bindings.cookieOptions(), maxAge: sealed.maxAge });
        if (binding === 'redirect') return reply.redirect(out.context, 303);
        return postForm(ctx, reply, out.entityEndpoint!, { SAMLRequest: out.context });
      },
    );

    app.post<{ Params: { name: string }; Body: { SAMLResponse?: string; RelayState?: string } }>(
      '/saml/:name/acs',
      {
        schema: {
          params: nameParam,
          body: { type: 'object', properties: { SAMLResponse: { type: 'string' }, RelayState: { type: 'string', maxLength: 2048 } } },
        },
      },
      async (req, reply) => {
        const peer = peerOf(req.params.name);
        let accepted;
        try {
          accepted = await acceptResponse(peer, req.body ?? {}, {
            oneTime,
            bindings,
            bindingCookie: ctx.web.cookies(req)[bindings.cookieName(peer)],
            clock: ctx.clock,
            skewMs: cfg.sp.clockSkewSeconds * 1000,
            maxBytes: cfg.sp.maxMessageBytes,
          });
        } catch (err) {
          if (err instanceof SamlRejected) return refuse(req, reply, peer, err);
          throw err;
        }
        // One AuthnRequest, one login: the binding is spent (a refusal above leaves it for the genuine response).
        if (accepted.solicited) reply.clearCookie(bindings.cookieName(peer), bindings.cookieOptions());
        let lr = accepted.loginRequest ?? undefined;
        if (!lr && accepted.relayTarget) {
          lr = ctx.login.requests.encode(
            { protocol: 'saml-relay', params: { to: accepted.relayTarget } },
            ctx.clock.now(),
            ctx.ids.token(12),
          );
        }
        return ctx.web.finishLogin(req, reply, accepted.identity, lr, peer.id);
      },
    );

    registerSlo(ctx, peerOf, refuse, {
      oneTime,
      logoutBindings: new LoginBindings(ctx.keys.derive('saml-logout-binding'), cfg.sp.requestTtlSeconds, secure, 'broker_slo_'),
      skewMs: cfg.sp.clockSkewSeconds * 1000,
      maxAgeMs: cfg.sp.requestTtlSeconds * 1000,
    });
  },
};

export default plugin;
