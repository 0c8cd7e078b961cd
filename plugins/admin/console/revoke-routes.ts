import type { FastifyReply, FastifyRequest } from 'fastify';
import { InvalidInput, NotFound, type AdminPrincipal } from '../../../plugin/index.js';
import type { ConsoleDeps } from './deps.js';
import { confirmPage } from './confirm.js';
import { qs, userHref, userLabel } from './format.js';
import { idParam } from '../user-routes.js';

const token = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$' } as const;
const confirmBody = {
  type: ['object', 'null'],
  properties: { _csrf: { type: 'string', maxLength: 256 }, confirm: { type: 'string', enum: ['yes'] } },
  additionalProperties: false,
} as const;
type Confirmed = { Body: { confirm?: string } | null };
const confirmed = (req: FastifyRequest) => (req.body as { confirm?: string } | null)?.confirm === 'yes';

/**
 * Ending one session, all of a user's sessions, revoking one OAuth grant (its refresh token and
 * access tokens), each behind a confirmation page; and retrying a ban notification to a site.
 */
export function registerRevokeRoutes(d: ConsoleDeps): void {
  const { ctx, guard } = d;
  const app = ctx.web.app;

  const withUser = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const p = await guard.check(req, reply);
    if (!p) return null;
    const u = ctx.read.users.get(req.params.id);
    if (!u || u.erased) throw new NotFound('No such user.');
    return { p, u };
  };

  // One session.
  const sessionParams = { type: 'object', required: ['id', 'sid'], properties: { ...idParam.properties, sid: token } } as const;
  const endOne = async (req: FastifyRequest<{ Params: { id: string; sid: string } }>, reply: FastifyReply, p: AdminPrincipal) => {
    const s = ctx.read.sessions.get(req.params.sid);
    if (!s || s.userId !== req.params.id) throw new NotFound('No such session (it may have ended already).');
    const u = ctx.read.users.get(req.params.id)!;
    if (req.method === 'GET' || !confirmed(req)) {
      return confirmPage(d, req, reply, p, {
        title: `End this session of ${userLabel(u)}?`,
        section: 'users',
        consequences: [
          `log out the browser that signed in ${s.createdAt.slice(0, 16).replace('T', ' ')} UTC with ${s.issuer}${s.ip ? ` from ${s.ip}` : ''}`,
          'revoke the app tokens issued from that session (back-channel logout tells those apps)',
        ],
        action: `${userHref(u.userId)}/sessions/${encodeURIComponent(s.sessionId)}/revoke`,
        button: 'End session',
        cancel: userHref(u.userId),
      });
    }
    await ctx.login.endSession(s.sessionId, 'admin', p.actor);
    ctx.logger.info({ userId: u.userId, action: 'end-session', actor: p.actor }, 'admin action');
    return reply.redirect(`${userHref(u.userId)}${qs({ done: 'session-revoked' })}`, 303);
  };
  app.get<{ Params: { id: string; sid: string } }>(
    '/admin/users/:id/sessions/:sid/revoke',
    { schema: { params: sessionParams } },
    async (req, reply) => {
      const w = await withUser(req, reply);
      return w ? endOne(req, reply, w.p) : reply;
    },
  );
  app.post<{ Params: { id: string; sid: string } } & Confirmed>(
    '/admin/users/:id/sessions/:sid/revoke',
    { schema: { params: sessionParams, body: confirmBody } },
    async (req, reply) => {
      const w = await withUser(req, reply);
      return w ? endOne(req, reply, w.p) : reply;
    },
  );

  // Every session.
  const endAll = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const w = await withUser(req, reply);
    if (!w) return reply;
    const n = ctx.read.sessions.forUser(w.u.userId).length;
    if (req.method === 'GET' || !confirmed(req)) {
      return confirmPage(d, req, reply, w.p, {
        title: `End all ${n} session(s) of ${userLabel(w.u)}?`,
        section: 'users',
        consequences: [
          `log out every browser of ${userLabel(w.u)}`,
          'revoke every app token of theirs (the account itself stays usable: they can log in again)',
        ],
        action: `${userHref(w.u.userId)}/sessions/revoke-all`,
        button: 'End all sessions',
        cancel: userHref(w.u.userId),
      });
    }
    await ctx.login.endAllSessions(w.u.userId, 'admin', w.p.actor);
    return reply.redirect(`${userHref(w.u.userId)}${qs({ done: 'sessions-revoked', n })}`, 303);
  };
  app.get<{ Params: { id: string } }>('/admin/users/:id/sessions/revoke-all', { schema: { params: idParam } }, endAll);
  app.post<{ Params: { id: string } } & Confirmed>(
    '/admin/users/:id/sessions/revoke-all',
    { schema: { params: idParam, body: confirmBody } },
    endAll,
  );

  // One OAuth grant (or whatever credential a plugin lists).
  const credParams = { type: 'object', required: ['id', 'cid'], properties: { ...idParam.properties, cid: token } } as const;
  const revokeOne = async (req: FastifyRequest<{ Params: { id: string; cid: string } }>, reply: FastifyReply) => {
    const w = await withUser(req, reply);
    if (!w) return reply;
    const found = d
      .sources()
      .flatMap((s) => (s.userCredentials?.(w.u.userId) ?? []).map((c) => ({ s, c })))
      .find((x) => x.c.id === req.params.cid);
    if (!found) throw new NotFound('No such grant for this user.');
    if (req.method === 'GET' || !confirmed(req)) {
      return confirmPage(d, req, reply, w.p, {
        title: `Revoke ${userLabel(w.u)}'s access for ${found.c.audience}?`,
        section: 'users',
        consequences: [
          `revoke the ${found.c.kind} (scope ${found.c.scope || 'none'}) that expires ${found.c.expiresAt ? found.c.expiresAt.slice(0, 16).replace('T', ' ') + ' UTC' : 'never'}`,
          `end ${found.c.covers}`,
          'the app has to ask the user to log in again',
        ],
        action: `${userHref(w.u.userId)}/credentials/${encodeURIComponent(found.c.id)}/revoke`,
        button: 'Revoke access',
        cancel: userHref(w.u.userId),
      });
    }
    const done = (await found.s.revokeCredential?.(w.u.userId, found.c.id, w.p.actor)) ?? false;
    return reply.redirect(`${userHref(w.u.userId)}${qs({ done: done ? 'credential-revoked' : 'credential-gone' })}`, 303);
  };
  app.get<{ Params: { id: string; cid: string } }>(
    '/admin/users/:id/credentials/:cid/revoke',
    { schema: { params: credParams } },
    revokeOne,
  );
  app.post<{ Params: { id: string; cid: string } } & Confirmed>(
    '/admin/users/:id/credentials/:cid/revoke',
    { schema: { params: credParams, body: confirmBody } },
    revokeOne,
  );

  // Retry one ban notification: not destructive (the site gets the same notification again, same id).
  app.post<{ Body: { banEventId: string; siteId: string; back?: string } }>(
    '/admin/deliveries/retry',
    {
      schema: {
        body: {
          type: 'object',
          required: ['banEventId', 'siteId'],
          properties: {
            _csrf: { type: 'string', maxLength: 256 },
            banEventId: token,
            siteId: token,
            back: { type: 'string', maxLength: 200, pattern: '^/admin(/[A-Za-z0-9_/-]*)?$' },
          },
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      const p = await guard.check(req, reply);
      if (!p) return reply;
      const source = d.sources().find((s) => s.retryDelivery);
      if (!source) throw new InvalidInput('Ban notifications are not enabled on this broker (no ban-broadcast plugin).');
      await source.retryDelivery!(req.body.banEventId, req.body.siteId, p.actor);
      ctx.logger.info({ banEventId: req.body.banEventId, siteId: req.body.siteId, actor: p.actor }, 'admin retried a ban notification');
      return reply.redirect(`${req.body.back ?? '/admin/sites'}${qs({ done: 'retried' })}`, 303);
    },
  );
}
