import { NotFound, type IdentityProvider } from '../../core/index.js';
import type { Plugin } from '../../adapters/kernel/boot.js';
import { samlConfigSchema, type SamlPluginConfig } from './config.js';
import { buildPeer, type SamlPeer } from './entities.js';
import { SamlOneTime } from './one-time.js';
import { SamlRejected } from './errors.js';
import { acceptResponse } from './acs.js';
import { registerSlo } from './slo.js';
import { AUTOPOST_JS, postForm, refuse } from './pages.js';

const plugin: Plugin<SamlPluginConfig> = {
  name: 'saml',
  configSchema: samlConfigSchema,
  async register(ctx) {
    const cfg = ctx.config;
    const oneTime = new SamlOneTime(ctx.store, ctx.clock, cfg.sp.requestTtlSeconds);
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
      if (err.statusCode === 413) return refuse(ctx, req, reply, peer, new SamlRejected('saml_oversized', 'The SAML message is too large.'));
      if (err instanceof SamlRejected) return refuse(ctx, req, reply, peer, err);
      return ctx.web.sendError(req, reply, err);
    });

    app.get('/saml/assets/autopost.js', async (_req, reply) => reply.type('text/javascript').header('cache-control', 'public, max-age=3600').send(AUTOPOST_JS));

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
        await oneTime.recordRequest(peer.id, out.id, lr);
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
            clock: ctx.clock,
            skewMs: cfg.sp.clockSkewSeconds * 1000,
            maxBytes: cfg.sp.maxMessageBytes,
          });
        } catch (err) {
          if (err instanceof SamlRejected) return refuse(ctx, req, reply, peer, err);
          throw err;
        }
        let lr = accepted.loginRequest ?? undefined;
        if (!lr && accepted.relayTarget) {
          lr = ctx.login.requests.encode({ protocol: 'saml-relay', params: { to: accepted.relayTarget } }, ctx.clock.now(), ctx.ids.token(12));
        }
        return ctx.web.finishLogin(req, reply, accepted.identity, lr, peer.id);
      },
    );

    registerSlo(ctx, peerOf);
  },
};

export default plugin;
