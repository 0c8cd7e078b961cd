import type { FastifyReply, FastifyRequest } from 'fastify';
import { Forbidden, InvalidInput, NotFound, type UserView, csrfTokenFor, html, type AdminPrincipal } from '../../plugin/index.js';
import type { ConsoleDeps } from './console/deps.js';
import { confirmPage } from './console/confirm.js';
import { qs, statusOf, userHref, userLabel } from './console/format.js';

type Action = 'ban' | 'unban' | 'disable' | 'enable' | 'erase';
const DONE: Record<Action, string> = { ban: 'banned', unban: 'unbanned', disable: 'disabled', enable: 'enabled', erase: 'erased' };

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

export const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' } },
} as const;
const isForm = (req: FastifyRequest) => String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');

/**
 * The JSON admin API (users list, CSRF token) and ban / unban / disable / enable, for the API and
 * for the console's forms. A form post runs the action only with `confirm=yes` (from the
 * confirmation page, which a GET or an unconfirmed post shows), then returns to the user's page
 * with a message that says what changed.
 */
export function registerUserRoutes(d: ConsoleDeps): void {
  const { ctx, guard } = d;
  const app = ctx.web.app;
  // `after` is the keyset cursor (the previous page's `next`): a page costs the same at any depth.
  // `offset` still works for old scripts, at O(offset).
  const qsSchema = {
    type: 'object',
    properties: {
      q: { type: 'string', maxLength: 200 },
      limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
      offset: { type: 'integer', minimum: 0, maximum: 100_000, default: 0 },
      after: { type: 'string', pattern: '^[0-9]{1,16}$' },
    },
  };

  app.get<{ Querystring: { q?: string; limit: number; offset: number; after?: string } }>(
    '/admin/api/users',
    { schema: { querystring: qsSchema } },
    async (req, reply) => {
      if (!(await guard.check(req, reply))) return reply;
      const page = ctx.read.users.list({
        q: req.query.q ?? '',
        limit: req.query.limit,
        offset: req.query.offset,
        after: req.query.after ?? null,
      });
      return {
        total: page.total,
        totalCapped: page.totalCapped,
        users: page.users.map(publicUser),
        next: page.next,
        position: ctx.projections.position,
      };
    },
  );

  // For script clients on an admin session: the token to send as `x-csrf-token`.
  app.get('/admin/api/csrf', { config: { noStore: true } }, async (req, reply) => {
    const p = await guard.check(req, reply);
    if (!p) return reply;
    if (p.via === 'token') return { csrfToken: null };
    return { csrfToken: csrfTokenFor(req, ctx.web.cookieName) };
  });

  const confirm = (verb: Action, u: UserView, p: AdminPrincipal, req: FastifyRequest, reply: FastifyReply) => {
    const name = userLabel(u);
    const sessions = ctx.read.sessions.forUser(u.userId).length;
    const grants = d
      .sources()
      .flatMap((s) => s.userCredentials?.(u.userId) ?? [])
      .filter((c) => !c.revoked).length;
    const sites = ctx.read.sites.active().filter((s) => s.webhookUrl).length;
    const c = {
      ban: [
        `Ban ${name}?`,
        [
          `end ${sessions} live session(s) at once`,
          `revoke ${grants} live app grant(s): their tokens stop working`,
          `refuse every future login`,
          `notify ${sites} site(s) with a webhook so they end their own sessions`,
        ],
        `Ban ${name}`,
      ],
      unban: [
        `Lift the ban on ${name}?`,
        ['let them log in again (sessions and tokens ended by the ban stay ended)', `notify ${sites} site(s) with a webhook`],
        `Unban ${name}`,
      ],
      disable: [
        `Disable ${name}?`,
        [
          `end ${sessions} live session(s) at once`,
          `revoke ${grants} live app grant(s)`,
          'refuse every login until the account is enabled again',
        ],
        `Disable ${name}`,
      ],
      enable: [`Enable ${name}?`, ['let them log in again'], `Enable ${name}`],
      erase: [
        `Erase ${name} for good?`,
        [
          `end ${sessions} live session(s) and revoke ${grants} live app grant(s)`,
          'destroy their data key: their email, name, addresses, browsers and external subjects become unreadable everywhere in the log, for good (the hash chains and proofs still verify)',
          'free their email address and identities for a new account',
          `tell ${sites} site(s) with a webhook to erase them too`,
          'this cannot be undone',
        ],
        `Erase ${name}`,
      ],
    }[verb] as [string, string[], string];
    const fields =
      verb === 'ban' || verb === 'erase'
        ? html`<p><label for="reason">Reason (recorded in the log and sent to sites)</label><br><textarea id="reason" name="reason" required maxlength="500" aria-required="true"></textarea></p>`
        : verb === 'disable' || verb === 'unban'
          ? html`<p><label for="reason">Reason (optional, recorded in the log)</label><br><textarea id="reason" name="reason" maxlength="500"></textarea></p>`
          : undefined;
    return confirmPage(d, req, reply, p, {
      title: c[0],
      section: 'users',
      consequences: c[1],
      action: `${userHref(u.userId)}/${verb}`,
      button: c[2],
      cancel: userHref(u.userId),
      fields,
      danger: verb === 'ban' || verb === 'disable' || verb === 'erase',
    });
  };

  const act = async (
    verb: Action,
    req: FastifyRequest<{ Params: { id: string }; Body: { reason?: string; confirm?: string } | null }>,
    reply: FastifyReply,
  ) => {
    const p = await guard.check(req, reply);
    if (!p) return reply;
    const userId = req.params.id;
    const before = await ctx.users.load(userId);
    if (!before.exists || before.erased) throw new NotFound('No such user.');
    if (isForm(req) && req.body?.confirm !== 'yes') return confirm(verb, ctx.read.users.get(userId)!, p, req, reply);
    const reason = req.body?.reason?.trim() || null;
    const meta = { actor: p.actor, extra: { ip: req.ip } };
    const sessionsBefore = ctx.read.sessions.forUser(userId).length;
    let position: number;
    if (verb === 'erase') {
      // It cannot be undone: the API asks for the same explicit confirmation as the form (docs/security/erasure.md).
      if (req.body?.confirm !== 'yes')
        return ctx.web.sendError(req, reply, new InvalidInput('An erasure cannot be undone: send "confirm": "yes".', { path: 'confirm' }));
      if (!reason) return ctx.web.sendError(req, reply, new InvalidInput('An erasure needs a reason.', { path: 'reason' }));
      if (p.userId === userId) return ctx.web.sendError(req, reply, new Forbidden('You cannot erase yourself.'));
      const correlationId = ctx.ids.token(16);
      await ctx.login.endAllSessions(userId, 'erased', p.actor, correlationId);
      // The admin's address is not recorded with an erasure: it would outlive the reason for it.
      position = (await ctx.users.execute(userId, { type: 'erase', actor: p.actor, reason }, { actor: p.actor, correlationId })).position;
    } else if (verb === 'ban' || verb === 'disable') {
      if (verb === 'ban' && !reason) return ctx.web.sendError(req, reply, new InvalidInput('A ban needs a reason.', { path: 'reason' }));
      if (p.userId === userId) return ctx.web.sendError(req, reply, new Forbidden('You cannot ban or disable yourself.'));
      // Record SessionEnded for each live session and CredentialsRevoked (the sessions and grants
      // read models also void them when they apply the ban, so they are dead the moment either is
      // applied, and an unban brings none back). One correlation id joins them to the ban, so
      // back-channel logout tells each client once.
      const already = verb === 'ban' ? !!before.banned : before.disabled;
      const correlationId = ctx.ids.token(16);
      if (!already) await ctx.login.endAllSessions(userId, verb === 'ban' ? 'banned' : 'disabled', p.actor, correlationId);
      const res = await ctx.users.execute(
        userId,
        verb === 'ban' ? { type: 'ban', reason: reason!, actor: p.actor } : { type: 'disable', reason },
        { ...meta, correlationId },
      );
      position = res.position;
    } else {
      const res = await ctx.users.execute(userId, verb === 'unban' ? { type: 'unban', reason, actor: p.actor } : { type: 'enable' }, meta);
      position = res.position;
    }
    // Read-your-writes: answer only once the read models (sessions included) reflect the change.
    await ctx.projections.waitFor(position);
    ctx.logger.info({ userId, action: verb, actor: p.actor }, 'admin action');
    if (isForm(req))
      return reply.redirect(
        `${userHref(userId)}${qs({ done: DONE[verb], n: sessionsBefore - ctx.read.sessions.forUser(userId).length })}`,
        303,
      );
    const u = ctx.read.users.get(userId)!;
    return { ...publicUser(u), sessions: ctx.read.sessions.forUser(userId).length, position };
  };

  for (const verb of ['ban', 'unban', 'disable', 'enable', 'erase'] as const) {
    app.get<{ Params: { id: string } }>(`/admin/users/:id/${verb}`, { schema: { params: idParam } }, async (req, reply) => {
      const p = await guard.check(req, reply);
      if (!p) return reply;
      const u = ctx.read.users.get(req.params.id);
      if (!u || u.erased) throw new NotFound('No such user.');
      return confirm(verb, u, p, req, reply);
    });
    app.post<{ Params: { id: string }; Body: { reason?: string; confirm?: string } | null }>(
      `/admin/users/:id/${verb}`,
      {
        schema: {
          params: idParam,
          body: {
            type: ['object', 'null'],
            properties: {
              reason: { type: 'string', maxLength: 500 },
              _csrf: { type: 'string', maxLength: 256 },
              confirm: { type: 'string', enum: ['yes'] },
            },
            additionalProperties: false,
          },
        },
      },
      (req, reply) => act(verb, req, reply),
    );
  }
}
