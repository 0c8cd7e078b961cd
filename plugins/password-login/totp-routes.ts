import type { FastifyInstance } from 'fastify';
import { CommandRejected, html } from '../../plugin/index.js';
import { TotpCodeRefused } from '../../adapters/crypto/totp.js';
import { generateRecoveryCodes, looksLikeRecoveryCode } from '../../adapters/crypto/recovery-codes.js';
import { ISSUER, IDP_ID, lockedPage, loginCtx, passwordIdentity, type Deps } from './deps.js';
import { enrollForm, recoveryCodesPage, totpForm } from './pages.js';

export function registerTotpRoutes(app: FastifyInstance, d: Deps, postLimit: object): void {
  const { ctx, totp, recovery, lockout, tickets } = d;
  const web = ctx.web;

  // Second step of a password login (RFC 6238 code, or a one-time recovery code).
  app.post<{ Body: { ticket: string; code: string } }>(
    '/password/totp',
    {
      config: postLimit,
      schema: {
        body: {
          type: 'object',
          required: ['ticket', 'code'],
          properties: {
            ticket: { type: 'string', maxLength: 12000 },
            code: { type: 'string', maxLength: 64 },
            _csrf: { type: 'string', maxLength: 256 },
          },
        },
      },
    },
    async (req, reply) => {
      const t = tickets.open(req.body.ticket, ctx.clock.now());
      const code = req.body.code;
      if (lockout.lockedUntil(t.key, ctx.clock.now())) return lockedPage(d, reply);
      const user = await ctx.users.load(t.uid);
      if (!user.userId) return web.errorPage(reply, 400, 'Invalid request', 'The login form does not name an account; start again.');
      const retry = async (reason: string, error: string) => {
        const pos = await ctx.login.recordFailure({ userId: t.uid, issuer: ISSUER, subject: t.key, reason }, loginCtx(req));
        await ctx.projections.waitFor(pos);
        if (lockout.lockedUntil(t.key, ctx.clock.now())) return lockedPage(d, reply);
        return web.page(reply, 'Second factor', totpForm({ ticket: req.body.ticket, csrf: reply.generateCsrf(), error }), 401);
      };
      if (!user.totp) {
        await tickets.consume(t);
        return web.finishLogin(req, reply, passwordIdentity(t.uid, user.email, user.name, ['pwd']), t.lr || undefined, IDP_ID);
      }

      let amr: string[];
      if (looksLikeRecoveryCode(code)) {
        const index = recovery.find(code, user.totp.recoveryCodeHashes);
        if (index < 0) return retry('bad_recovery_code', 'That recovery code is not valid or was already used.');
        try {
          await ctx.users.execute(t.uid, { type: 'useRecoveryCode', index }, { actor: `user:${t.uid}` });
        } catch (err) {
          if (err instanceof CommandRejected) return retry('bad_recovery_code', 'That recovery code is not valid or was already used.');
          throw err;
        }
        amr = ['pwd', 'mfa'];
      } else {
        try {
          await totp.verifyAndConsume(t.uid, totp.open(user.totp.secretCipher), code);
        } catch (err) {
          if (err instanceof TotpCodeRefused) return retry(err.reason, err.message);
          throw err;
        }
        amr = ['pwd', 'otp', 'mfa']; // RFC 8176 §2
      }
      // Only once the second factor is proven: a wrong code keeps the ticket for the retry form.
      await tickets.consume(t);
      return web.finishLogin(req, reply, passwordIdentity(t.uid, user.email, user.name, amr), t.lr || undefined, IDP_ID);
    },
  );

  // Enrollment for a logged-in user. Nothing is stored until a first code proves the app has the secret.
  app.get('/password/totp/enroll', async (req, reply) => {
    const s = web.session(req);
    if (!s) return web.beginLogin(req, reply, { protocol: 'return_to', params: { return_to: '/password/totp/enroll' } });
    const user = await ctx.users.load(s.userId);
    if (user.totp) return web.page(reply, 'Two-factor login', html`<h1>Two-factor login is already on</h1><p><a href="/">Back</a></p>`);
    const secret = totp.newSecret();
    const uri = totp.uri(secret, user.email ?? s.userId);
    return web.page(
      reply,
      'Set up two-factor login',
      enrollForm({ sealed: totp.sealEnrollment(secret, s.userId), csrf: reply.generateCsrf(), qr: await totp.qrDataUrl(uri), secret, uri }),
    );
  });

  app.post<{ Body: { sealed: string; code: string } }>(
    '/password/totp/enroll',
    {
      config: postLimit,
      schema: {
        body: {
          type: 'object',
          required: ['sealed', 'code'],
          properties: {
            sealed: { type: 'string', maxLength: 4096 },
            code: { type: 'string', maxLength: 64 },
            _csrf: { type: 'string', maxLength: 256 },
          },
        },
      },
    },
    async (req, reply) => {
      const s = web.session(req);
      if (!s) return web.errorPage(reply, 401, 'Not logged in', 'Log in first, then set up two-factor login.');
      const secret = totp.openEnrollment(req.body.sealed, s.userId);
      const user = await ctx.users.load(s.userId);
      if (user.totp) return web.errorPage(reply, 409, 'Already on', 'Two-factor login is already on for this account.');
      try {
        await totp.verifyAndConsume(s.userId, secret, req.body.code);
      } catch (err) {
        if (!(err instanceof TotpCodeRefused)) throw err;
        const uri = totp.uri(secret, user.email ?? s.userId);
        return web.page(
          reply,
          'Set up two-factor login',
          enrollForm({
            sealed: req.body.sealed,
            csrf: reply.generateCsrf(),
            qr: await totp.qrDataUrl(uri),
            secret,
            uri,
            error: err.message,
          }),
          400,
        );
      }
      const codes = generateRecoveryCodes();
      const res = await ctx.users.execute(
        s.userId,
        { type: 'enrollTotp', secretCipher: totp.seal(secret), recoveryCodeHashes: codes.map((c) => recovery.hash(c)) },
        { actor: `user:${s.userId}` },
      );
      await ctx.projections.waitFor(res.position);
      return web.page(reply, 'Two-factor login is on', recoveryCodesPage(codes, '/'));
    },
  );
}
