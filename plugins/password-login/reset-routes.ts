import type { FastifyInstance } from 'fastify';
import { MAX_PASSWORD_LENGTH, passwordProblem } from '../../adapters/crypto/password-hasher.js';
import type { Mailer } from '../../adapters/mail/mailer.js';
import type { Deps } from './deps.js';
import { LinkInvalid, linkMail, linkUrl, type PasswordLinks } from '../../plugin/index.js';
import { forgotForm, linkInvalidPage, passwordSetPage, setPasswordForm } from './pages.js';

/**
 * "Forgot your password?" and the page a one-time link opens (a reset, or an invitation). The
 * forgot form answers the same whether or not the address has an account, and the mail goes out
 * after the answer, so neither the page nor its timing tells (OWASP Forgot Password Cheat Sheet).
 */
export function registerResetRoutes(app: FastifyInstance, d: Deps, links: PasswordLinks, mailer: Mailer | null, postLimit: object): void {
  const { ctx, hasher } = d;
  const web = ctx.web;

  app.get('/password/forgot', async (_req, reply) => web.page(reply, 'Forgot your password?', forgotForm({ csrf: reply.generateCsrf() })));

  app.post<{ Body: { email: string } }>(
    '/password/forgot',
    {
      config: postLimit,
      schema: {
        body: {
          type: 'object',
          required: ['email'],
          properties: { email: { type: 'string', maxLength: 320 }, _csrf: { type: 'string', maxLength: 256 } },
        },
      },
    },
    async (req, reply) => {
      const email = req.body.email.trim().toLowerCase();
      const found = ctx.read.users.findByEmail(email);
      if (found && !found.banned && !found.disabled && !found.erased && mailer) {
        // After the answer: the page and its timing are the same for every address.
        setImmediate(() => {
          void (async () => {
            const link = await links.issue(found.userId, 'reset', `user:${found.userId}`);
            if (!link) return req.log.warn({ userId: found.userId }, 'password reset: hourly limit reached, no mail sent');
            await mailer.send({ to: email, ...linkMail('reset', linkUrl(ctx.baseUrl, link.token), link.expiresAt) });
          })().catch((err: unknown) => req.log.error({ err }, 'password reset mail failed'));
        });
      }
      if (!mailer) req.log.warn('password reset asked for, but no mail server is configured (config `mail`): nothing sent');
      return web.page(reply, 'Forgot your password?', forgotForm({ csrf: reply.generateCsrf(), sent: true }));
    },
  );

  const open = async (token: string) => {
    try {
      return await links.check(token);
    } catch (err) {
      if (err instanceof LinkInvalid) return null;
      throw err;
    }
  };

  app.get<{ Querystring: { token?: string } }>(
    '/password/set',
    { schema: { querystring: { type: 'object', properties: { token: { type: 'string', maxLength: 200 } } } } },
    async (req, reply) => {
      const link = await open(req.query.token ?? '');
      if (!link) return web.page(reply, 'Link expired', linkInvalidPage(), 410);
      const user = ctx.read.users.get(link.userId);
      return web.page(
        reply,
        'Set your password',
        setPasswordForm({ token: req.query.token!, csrf: reply.generateCsrf(), purpose: link.purpose, email: user?.email ?? null }),
      );
    },
  );

  app.post<{ Body: { token: string; password: string } }>(
    '/password/set',
    {
      config: postLimit,
      schema: {
        body: {
          type: 'object',
          required: ['token', 'password'],
          properties: {
            token: { type: 'string', maxLength: 200 },
            password: { type: 'string', maxLength: MAX_PASSWORD_LENGTH },
            email: { type: 'string', maxLength: 320 },
            _csrf: { type: 'string', maxLength: 256 },
          },
        },
      },
    },
    async (req, reply) => {
      const link = await open(req.body.token);
      if (!link) return web.page(reply, 'Link expired', linkInvalidPage(), 410);
      const problem = passwordProblem(req.body.password);
      const user = ctx.read.users.get(link.userId);
      if (problem)
        return web.page(
          reply,
          'Set your password',
          setPasswordForm({
            token: req.body.token,
            csrf: reply.generateCsrf(),
            purpose: link.purpose,
            email: user?.email ?? null,
            error: problem,
          }),
          400,
        );
      try {
        await links.consume(link); // first: a link used twice at once sets one password
      } catch (err) {
        if (err instanceof LinkInvalid) return web.page(reply, 'Link expired', linkInvalidPage(), 410);
        throw err;
      }
      const r = await ctx.users.execute(
        link.userId,
        { type: 'setPassword', passwordHash: await hasher.hash(req.body.password) },
        { actor: `user:${link.userId}` },
      );
      await ctx.projections.waitFor(r.position);
      // No login here: an account with TOTP must still pass it; the login page asks for both.
      return web.page(reply, 'Password set', passwordSetPage());
    },
  );
}
