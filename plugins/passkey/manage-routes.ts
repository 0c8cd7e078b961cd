import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { checkSessionCsrf, csrfTokenFor } from '../../plugin/index.js';
import { answeredChallenge, flowOf, jsonError, type Deps } from './deps.js';
import { passkeyStream } from './events.js';
import { passkeyDecider } from './credential.js';
import { managePage } from './pages.js';
import { registerCredential, registrationOptions } from './registration.js';

const MANAGE = '/passkey/manage';

/** A user's own passkeys: list, add (after a fresh login), rename, remove (after a fresh login). */
export function registerManageRoutes(d: Deps): void {
  const { ctx, view, challenges } = d;
  const web = ctx.web;
  const app = web.app;

  /** A session whose login is recent enough to add or remove a credential (re-authentication, NIST SP 800-63B §7.2). */
  const freshSession = (req: FastifyRequest) => {
    const s = web.session(req);
    if (!s) return { s: null, fresh: false };
    return { s, fresh: ctx.clock.now().getTime() - Date.parse(s.createdAt) <= ctx.config.freshLoginSeconds * 1000 };
  };
  const login = (req: FastifyRequest, reply: FastifyReply, forceLogin = false) =>
    web.beginLogin(req, reply, { protocol: 'return_to', params: { return_to: MANAGE }, ...(forceLogin ? { forceLogin: true } : {}) });

  app.get<{ Querystring: { added?: string; removed?: string; renamed?: string } }>(MANAGE, async (req, reply) => {
    const { s } = freshSession(req);
    if (!s) return login(req, reply);
    const q = req.query;
    const message = q.added
      ? 'Passkey added. Your next login can use it.'
      : q.removed
        ? 'Passkey removed.'
        : q.renamed
          ? 'Passkey renamed.'
          : undefined;
    return web.page(reply, 'Your passkeys', managePage({ keys: view.ofUser(s.userId), csrf: csrfTokenFor(req, web.cookieName)!, message }));
  });

  app.post('/passkey/register/options', async (req, reply) => {
    const { s, fresh } = freshSession(req);
    if (!s) return jsonError(reply, 401, 'login_required', 'Log in first.');
    if (!checkSessionCsrf(req, web.cookieName)) return jsonError(reply, 403, 'csrf', 'The page expired; reload it.');
    if (!fresh)
      return jsonError(
        reply,
        403,
        'reauthentication_required',
        `Log in again (within ${ctx.config.freshLoginSeconds} s) to add a passkey.`,
      );
    const options = await registrationOptions(d, s.userId);
    challenges.issue(options.challenge, { purpose: 'register', flow: flowOf(d, req, reply)!, userId: s.userId });
    return reply.header('cache-control', 'no-store').send(options);
  });

  app.post<{ Body: { response: RegistrationResponseJSON; name?: string } }>(
    '/passkey/register/verify',
    {
      bodyLimit: 32 * 1024,
      schema: {
        body: {
          type: 'object',
          required: ['response'],
          properties: { response: { type: 'object' }, name: { type: 'string', maxLength: 64 } },
        },
      },
    },
    async (req, reply) => {
      const { s, fresh } = freshSession(req);
      if (!s) return jsonError(reply, 401, 'login_required', 'Log in first.');
      if (!checkSessionCsrf(req, web.cookieName)) return jsonError(reply, 403, 'csrf', 'The page expired; reload it.');
      if (!fresh) return jsonError(reply, 403, 'reauthentication_required', 'Log in again to add a passkey.');
      const challenge = answeredChallenge(req.body.response?.response?.clientDataJSON);
      const flow = flowOf(d, req);
      const pending = challenge && flow ? challenges.consume(challenge, 'register', flow) : undefined;
      if (!pending || pending.userId !== s.userId)
        return jsonError(reply, 400, 'challenge', 'This prompt expired or was already used. Try again.');
      const out = await registerCredential(d, s.userId, req.body.response, challenge!, req.body.name, `user:${s.userId}`);
      if (!out.ok) return jsonError(reply, out.status, out.error, out.message);
      return reply.header('cache-control', 'no-store').send({ ok: true, credentialId: out.credentialId });
    },
  );

  /** Rename and remove: a form with the session's CSRF token, for the session's own passkeys. */
  const own = (req: FastifyRequest<{ Body: { credentialId: string } }>, reply: FastifyReply, needFresh: boolean) => {
    const { s, fresh } = freshSession(req);
    if (!s) return { stop: login(req, reply) };
    if (!checkSessionCsrf(req, web.cookieName))
      return { stop: web.errorPage(reply, 403, 'Expired form', 'The page expired; go back and reload it.') };
    if (needFresh && !fresh) return { stop: login(req, reply, true) };
    const key = view.get(req.body.credentialId);
    if (!key || key.userId !== s.userId) return { stop: web.errorPage(reply, 404, 'Not found', 'No such passkey on your account.') };
    return { s, key };
  };
  const formSchema = (extra: Record<string, unknown> = {}) => ({
    schema: {
      body: {
        type: 'object',
        required: ['credentialId', ...Object.keys(extra)],
        properties: { credentialId: { type: 'string', maxLength: 1024 }, _csrf: { type: 'string', maxLength: 256 }, ...extra },
      },
    },
  });

  app.post<{ Body: { credentialId: string } }>('/passkey/remove', formSchema(), async (req, reply) => {
    const o = own(req, reply, true);
    if ('stop' in o) return o.stop;
    const r = await ctx.commands.handle(
      passkeyDecider,
      passkeyStream(o.key.credentialId),
      { type: 'remove', userId: o.s.userId },
      { actor: `user:${o.s.userId}` },
    );
    await ctx.projections.waitFor(r.position);
    return reply.redirect(`${MANAGE}?removed=1`, 303);
  });

  app.post<{ Body: { credentialId: string; name: string } }>(
    '/passkey/rename',
    formSchema({ name: { type: 'string', minLength: 1, maxLength: 64 } }),
    async (req, reply) => {
      const o = own(req, reply, false);
      if ('stop' in o) return o.stop;
      const name = req.body.name.trim();
      if (!name) return web.errorPage(reply, 400, 'Invalid name', 'A passkey needs a name.');
      const r = await ctx.commands.handle(
        passkeyDecider,
        passkeyStream(o.key.credentialId),
        { type: 'rename', userId: o.s.userId, name },
        { actor: `user:${o.s.userId}` },
      );
      await ctx.projections.waitFor(r.position);
      return reply.redirect(`${MANAGE}?renamed=1`, 303);
    },
  );
}
