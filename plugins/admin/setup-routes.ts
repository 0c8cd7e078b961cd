import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { html, AnonymousRefusals, type PluginCtx } from '../../plugin/index.js';
import { MAX_PASSWORD_LENGTH, passwordProblem, type PasswordHasher } from '../../adapters/crypto/password-hasher.js';
import type { TotpService } from '../../adapters/crypto/totp.js';
import { generateRecoveryCodes, type RecoveryCodes } from '../../adapters/crypto/recovery-codes.js';
import type { AdminConfig } from './config.js';
import { SetupLinkRefused, hashSetupToken, type SetupTokens } from './setup-tokens.js';

/** Refused setup links recorded as `LoginFailed` per node and second. */
export const REFUSAL_EVENTS_PER_SECOND = 50;

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

interface SetupDeps {
  ctx: PluginCtx<AdminConfig>;
  hasher: PasswordHasher;
  totp: TotpService;
  recovery: RecoveryCodes;
  tokens: SetupTokens;
}

interface SetupBody {
  token: string;
  email: string;
  name?: string;
  password: string;
  sealed: string;
  code: string;
}

/**
 * First-run setup: the page behind the one-time URL. It shows the URL itself as a QR code (open it
 * on a phone), and a form where the first admin sets a password and enrolls TOTP. The setup token
 * in the form is an unguessable secret the attacker does not have, so it also stops CSRF here.
 */
export function registerSetupRoutes(app: FastifyInstance, d: SetupDeps): void {
  const { ctx, hasher, totp, tokens } = d;
  const web = ctx.web;

  // A reused or guessed setup link is security-relevant: recorded, like a failed login. Anyone can
  // ask for the page with any token, so recording is capped per node and second (as for SAML and
  // OIDC refusals): junk traffic cannot grow the event log without bound.
  const refusals = new AnonymousRefusals(ctx.login, ctx.logger, ctx.clock, REFUSAL_EVENTS_PER_SECOND, 'setup link refusals');
  const refuse = async (req: FastifyRequest, reply: FastifyReply, err: SetupLinkRefused) => {
    await refusals.record(
      { issuer: 'admin-setup', reason: err.reason },
      { ip: req.ip, userAgent: String(req.headers['user-agent'] ?? '') },
    );
    return web.errorPage(reply, err.reason === 'setup_token_invalid' ? 404 : 410, 'Setup link refused', err.message);
  };

  const form = async (
    reply: FastifyReply,
    token: string,
    o: { sealed?: string; email?: string; name?: string; error?: string; status?: number },
  ) => {
    const secret = o.sealed ? totp.openEnrollment(o.sealed, `setup:${hashSetupToken(token)}`) : totp.newSecret();
    const sealed = o.sealed ?? totp.sealEnrollment(secret, `setup:${hashSetupToken(token)}`);
    const setupUrl = `${ctx.baseUrl}/admin/setup?token=${encodeURIComponent(token)}`;
    const [urlQr, totpQr] = await Promise.all([totp.qrDataUrl(setupUrl), totp.qrDataUrl(totp.uri(secret, o.email || 'admin'))]);
    return web.page(
      reply,
      'Set up the broker',
      html`<h1>Set up the first administrator</h1>
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
<p class="muted">To finish on your phone, scan this link:</p><p><img src="${urlQr}" alt="QR code of this setup link" width="200" height="200"></p>
<form class="stack" method="post" action="/admin/setup">
<input type="hidden" name="token" value="${token}"><input type="hidden" name="sealed" value="${sealed}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required value="${o.email ?? ''}">
<label for="name">Name</label><input id="name" name="name" type="text" value="${o.name ?? ''}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="new-password" required>
<p>Scan this with an authenticator app, then type the code it shows:</p>
<p><img src="${totpQr}" alt="QR code of the authenticator secret" width="200" height="200"></p>
<p class="muted">Secret for manual entry: <code data-testid="totp-secret">${secret}</code></p>
<label for="code">Code</label><input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" required>
<button type="submit">Create administrator</button></form>`,
      o.status ?? 200,
    );
  };

  app.get<{ Querystring: { token?: string } }>(
    '/admin/setup',
    { schema: { querystring: { type: 'object', properties: { token: { type: 'string', maxLength: 128 } } } } },
    async (req, reply) => {
      const token = req.query.token ?? '';
      try {
        await tokens.check(token);
      } catch (err) {
        if (err instanceof SetupLinkRefused) return refuse(req, reply, err);
        throw err;
      }
      return form(reply, token, {});
    },
  );

  app.post<{ Body: SetupBody }>(
    '/admin/setup',
    {
      config: { rateLimit: { max: 20, timeWindow: 60_000 } },
      schema: {
        body: {
          type: 'object',
          required: ['token', 'email', 'password', 'sealed', 'code'],
          properties: {
            token: { type: 'string', maxLength: 128 },
            email: { type: 'string', maxLength: 320 },
            name: { type: 'string', maxLength: 200 },
            password: { type: 'string', maxLength: MAX_PASSWORD_LENGTH },
            sealed: { type: 'string', maxLength: 4096 },
            code: { type: 'string', maxLength: 16 },
          },
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const name = b.name?.trim() || null;
      try {
        await tokens.check(b.token);
        const again = (error: string) => form(reply, b.token, { sealed: b.sealed, email: b.email, name: name ?? '', error, status: 400 });
        const problem = passwordProblem(b.password);
        if (problem) return again(problem);
        if (!EMAIL.test(b.email.trim())) return again('That is not an email address.');
        if (await ctx.users.findByEmail(b.email)) return again('An account with this email already exists.');
        const secret = totp.openEnrollment(b.sealed, `setup:${hashSetupToken(b.token)}`);
        if (totp.match(secret, b.code) === null)
          return again('That code is not valid; check the clock of your phone and try the next one.');
        const userId = randomUUID();
        await tokens.claim(b.token, userId); // from here on the link is dead
        const meta = { actor: `setup:${userId}` };
        await ctx.users.register({ userId, email: b.email, name, via: 'admin-setup' }, meta);
        await ctx.users.execute(userId, { type: 'setPassword', passwordHash: await hasher.hash(b.password) }, meta);
        const codes = generateRecoveryCodes();
        await ctx.users.execute(
          userId,
          { type: 'enrollTotp', secretCipher: totp.seal(secret), recoveryCodeHashes: codes.map((c) => d.recovery.hash(c)) },
          meta,
        );
        await totp.verifyAndConsume(userId, secret, b.code).catch(() => undefined); // spend the code: the first login needs a fresh one
        const res = await ctx.users.execute(userId, { type: 'grantAdmin' }, meta);
        await ctx.projections.waitFor(res.position);
        ctx.logger.info({ userId }, 'first administrator created; the setup link is now void');
        return web.page(
          reply,
          'Administrator created',
          html`<h1>Administrator created</h1><p class="ok">The setup link no longer works. Keep these recovery codes somewhere safe; each works once in place of a code:</p>
<ul class="recovery-codes">${codes.map((c) => html`<li><code>${c}</code></li>`)}</ul><p><a class="button" href="/admin/users">Log in to the admin pages</a></p>`,
        );
      } catch (err) {
        if (err instanceof SetupLinkRefused) return refuse(req, reply, err);
        throw err;
      }
    },
  );
}
