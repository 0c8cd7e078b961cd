import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Forbidden, InvalidInput, NotFound, type RecordedEvent, type UserView } from '../../core/index.js';
import { csrfTokenFor } from '../../adapters/http/session-csrf.js';
import type { PluginCtx } from '../../adapters/kernel/boot.js';
import type { AdminConfig } from './config.js';
import type { AdminGuard, AdminPrincipal } from './auth.js';
import { statusOf, userPage, usersPage } from './pages.js';

type Action = 'ban' | 'unban' | 'disable' | 'enable';
const TIMELINE_MAX = 200;

const publicUser = (u: UserView) => ({
  userId: u.userId,
  email: u.email,
  name: u.name,
  status: statusOf(u),
  admin: u.admin,
  banned: u.banned,
  disabled: u.disabled,
  hasTotp: u.hasTotp,
  createdAt: u.createdAt,
  lastLoginAt: u.lastLoginAt,
});

export function registerUserRoutes(app: FastifyInstance, ctx: PluginCtx<AdminConfig>, guard: AdminGuard): void {
  const web = ctx.web;
  const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' } } };
  // `after` is the keyset cursor (the previous page's `next`): a page costs the same at any depth.
  // `offset` still works for old scripts, at O(offset).
  const qs = { type: 'object', properties: { q: { type: 'string', maxLength: 200 }, limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 }, offset: { type: 'integer', minimum: 0, maximum: 100_000, default: 0 }, after: { type: 'string', pattern: '^[0-9]{1,16}$' } } };

  app.get('/admin', async (_req, reply) => reply.redirect('/admin/users', 303));

  app.get<{ Querystring: { q?: string; limit: number; offset: number } }>('/admin/users', { schema: { querystring: qs } }, async (req, reply) => {
    if (!(await guard.check(req, reply))) return reply;
    const q = req.query.q ?? '';
    const { total, users } = ctx.read.users.search(q, req.query.limit, req.query.offset);
    return web.page(reply, 'Users', usersPage(q, total, users));
  });

  app.get<{ Querystring: { q?: string; limit: number; offset: number; after?: string } }>('/admin/api/users', { schema: { querystring: qs } }, async (req, reply) => {
    if (!(await guard.check(req, reply))) return reply;
    const page = ctx.read.users.list({ q: req.query.q ?? '', limit: req.query.limit, offset: req.query.offset, after: req.query.after ?? null });
    return { total: page.total, totalCapped: page.totalCapped, users: page.users.map(publicUser), next: page.next, position: ctx.projections.position };
  });

  // For script clients on an admin session: the token to send as `x-csrf-token`.
  app.get('/admin/api/csrf', { config: { noStore: true } }, async (req, reply) => {
    const p = await guard.check(req, reply);
    if (!p) return reply;
    if (p.via === 'token') return { csrfToken: null };
    return { csrfToken: csrfTokenFor(req, web.cookieName) };
  });

  app.get<{ Params: { id: string } }>('/admin/users/:id', { schema: { params: idParam } }, async (req, reply) => {
    if (!(await guard.check(req, reply))) return reply;
    const u = ctx.read.users.get(req.params.id);
    if (!u) throw new NotFound('no such user');
    const entries = ctx.read.audit.timeline(u.userId).slice(-TIMELINE_MAX);
    const byPos = new Map<number, RecordedEvent>();
    for (const streamId of new Set(entries.map((e) => e.streamId))) for (const e of await ctx.store.readStream(streamId)) byPos.set(e.position, e);
    const timeline = entries.map((e) => byPos.get(e.position)).filter((e): e is RecordedEvent => !!e).reverse();
    return web.page(reply, u.email ?? u.userId, userPage(u, ctx.read.sessions.forUser(u.userId), timeline, csrfTokenFor(req, web.cookieName) ?? ''));
  });

  const act = async (verb: Action, req: FastifyRequest<{ Params: { id: string }; Body: { reason?: string } | null }>, reply: FastifyReply) => {
    const p: AdminPrincipal | null = await guard.check(req, reply);
    if (!p) return reply;
    const userId = req.params.id;
    const before = await ctx.users.load(userId);
    if (!before.exists || before.erased) throw new NotFound('no such user');
    const reason = req.body?.reason?.trim() || null;
    const meta = { actor: p.actor, extra: { ip: req.ip } };
    let position: number;
    if (verb === 'ban' || verb === 'disable') {
      if (verb === 'ban' && !reason) return web.sendError(req, reply, new InvalidInput('a ban needs a reason', { path: 'reason' }));
      if (p.userId === userId) return web.sendError(req, reply, new Forbidden('You cannot ban or disable yourself.'));
      // Record SessionEnded for each live session and CredentialsRevoked (the sessions and grants
      // read models also void them when they apply the ban, so they are dead the moment either is
      // applied, and an unban brings none back). One correlation id joins them to the ban, so
      // back-channel logout tells each client once.
      const already = verb === 'ban' ? !!before.banned : before.disabled;
      const correlationId = ctx.ids.token(16);
      if (!already) await ctx.login.endAllSessions(userId, verb === 'ban' ? 'banned' : 'disabled', p.actor, correlationId);
      const res = await ctx.users.execute(userId, verb === 'ban' ? { type: 'ban', reason: reason!, actor: p.actor } : { type: 'disable', reason }, { ...meta, correlationId });
      position = res.position;
    } else {
      const res = await ctx.users.execute(userId, verb === 'unban' ? { type: 'unban', reason, actor: p.actor } : { type: 'enable' }, meta);
      position = res.position;
    }
    // Read-your-writes: answer only once the read models (sessions included) reflect the change.
    await ctx.projections.waitFor(position);
    ctx.logger.info({ userId, action: verb, actor: p.actor }, 'admin action');
    if (String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return reply.redirect(`/admin/users/${encodeURIComponent(userId)}`, 303);
    }
    const u = ctx.read.users.get(userId)!;
    return { ...publicUser(u), sessions: ctx.read.sessions.forUser(userId).length, position };
  };

  for (const verb of ['ban', 'unban', 'disable', 'enable'] as const) {
    app.post<{ Params: { id: string }; Body: { reason?: string } | null }>(
      `/admin/users/:id/${verb}`,
      {
        schema: {
          params: idParam,
          body: { type: ['object', 'null'], properties: { reason: { type: 'string', maxLength: 500 }, _csrf: { type: 'string', maxLength: 256 } }, additionalProperties: false },
        },
      },
      (req, reply) => act(verb, req, reply),
    );
  }
}
