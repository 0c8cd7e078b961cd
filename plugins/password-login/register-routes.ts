import type { FastifyInstance } from 'fastify';
import { DomainError } from '../../plugin/index.js';
import { MAX_PASSWORD_LENGTH, passwordProblem } from '../../adapters/crypto/password-hasher.js';
import { IDP_ID, passwordIdentity, type Deps } from './deps.js';
import { registerForm } from './pages.js';

/** Self-registration (only when `selfRegistration: true`). */
export function registerRegistrationRoutes(app: FastifyInstance, d: Deps, postLimit: object): void {
  const { ctx, hasher } = d;
  const web = ctx.web;

  app.get<{ Querystring: { lr?: string } }>(
    '/password/register',
    { schema: { querystring: { type: 'object', properties: { lr: { type: 'string', maxLength: 8192 } } } } },
    async (req, reply) => {
      const lr = req.query.lr ?? '';
      if (lr) web.decodeLoginRequest(lr);
      return web.page(reply, 'Create an account', registerForm({ lr, csrf: reply.generateCsrf() }));
    },
  );

  app.post<{ Body: { email: string; name?: string; password: string; lr?: string } }>(
    '/password/register',
    {
      config: postLimit,
      schema: {
        body: {
          type: 'object',
          required: ['email', 'password'],
          properties: {
            email: { type: 'string', maxLength: 320 },
            name: { type: 'string', maxLength: 200 },
            password: { type: 'string', maxLength: MAX_PASSWORD_LENGTH },
            lr: { type: 'string', maxLength: 8192 },
            _csrf: { type: 'string', maxLength: 256 },
          },
        },
      },
    },
    async (req, reply) => {
      const { email, password } = req.body;
      const name = req.body.name?.trim() || null;
      const lr = req.body.lr ?? '';
      if (lr) web.decodeLoginRequest(lr);
      const again = (status: number, error: string) =>
        web.page(reply, 'Create an account', registerForm({ lr, csrf: reply.generateCsrf(), email, name: name ?? '', error }), status);
      const problem = passwordProblem(password);
      if (problem) return again(400, problem);
      let userId: string;
      try {
        ({ userId } = await ctx.users.register({ email, name, via: IDP_ID }, { actor: 'self-registration' }));
      } catch (err) {
        // Registration necessarily reveals that an address is taken; the login form never does.
        if (err instanceof DomainError && (err.code === 'conflict' || err.code === 'invalid_input')) {
          return again(
            err.code === 'conflict' ? 409 : 400,
            err.code === 'conflict' ? 'An account with this email already exists.' : err.message,
          );
        }
        throw err;
      }
      const res = await ctx.users.execute(
        userId,
        { type: 'setPassword', passwordHash: await hasher.hash(password) },
        { actor: `user:${userId}` },
      );
      await ctx.projections.waitFor(res.position);
      const u = ctx.read.users.get(userId);
      return web.finishLogin(req, reply, passwordIdentity(userId, u?.email ?? null, name, ['pwd']), lr || undefined, IDP_ID);
    },
  );
}
