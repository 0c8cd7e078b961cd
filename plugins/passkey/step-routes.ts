import type { FastifyReply, FastifyRequest } from 'fastify';
import { generateAuthenticationOptions, type AuthenticationResponseJSON, type RegistrationResponseJSON } from '@simplewebauthn/server';
import { CommandRejected } from '../../plugin/index.js';
import { verifyAssertion } from './assertion.js';
import { answeredChallenge, flowOf, jsonError, parseResponse, recordFailure, type Deps } from './deps.js';
import { stepPage } from './pages.js';
import { registerCredential, registrationOptions } from './registration.js';
import { MAX_TICKET, StepTicketInvalid, type StepMode, type StepTicket } from './step-ticket.js';

const TICKET = { type: 'string', maxLength: MAX_TICKET } as const;

/**
 * The passkey step of a login the core held back (login-step.ts). The ticket says who proved what;
 * the step ends by calling `finishLogin` with `hwk` added to `amr` (the core then checks the user
 * again, runs every enricher and opens the session), or, for a recovery code, with `mfa`.
 */
export function registerStepRoutes(d: Deps): void {
  const { ctx, challenges, rp, tickets, recovery } = d;
  const web = ctx.web;
  const app = web.app;

  const hasRecoveryCodes = async (uid: string) => ((await ctx.users.load(uid)).totp?.recoveryCodeHashes ?? []).some((h) => h !== null);
  const page = async (reply: FastifyReply, ticket: string, t: StepTicket, status = 200, error?: string, notice?: string) =>
    web.page(
      reply,
      t.mode === 'enrol' ? 'Add a passkey' : 'Confirm with your passkey',
      stepPage({ ticket, mode: t.mode, recovery: t.mode === 'assert' && (await hasRecoveryCodes(t.uid)), error, notice }),
      status,
    );
  const open = (token: string, mode?: StepMode): StepTicket => {
    const t = tickets.open(token, ctx.clock.now());
    if (mode && t.mode !== mode) throw new StepTicketInvalid('This login step is for another form; start again.');
    return t;
  };
  /** A new ticket for the same login, in another mode (after an enrolment: prove the new passkey; after a recovery code: enrol). */
  const continueWith = (reply: FastifyReply, t: StepTicket, mode: StepMode, notice?: string) =>
    reply.redirect(
      `/passkey/step?t=${encodeURIComponent(tickets.issue({ uid: t.uid, identity: t.identity, idp: t.idp, lr: t.lr, mode }, ctx.clock.now()))}${notice ? '&added=1' : ''}`,
      303,
    );
  const finish = (req: FastifyRequest, reply: FastifyReply, t: StepTicket, add: string[]) =>
    web.finishLogin(req, reply, { ...t.identity, amr: [...new Set([...t.identity.amr, ...add])] }, t.lr || undefined, t.idp);
  /** Pre-session forms: only from our own pages (login CSRF: someone else's half-done login pushed into this browser). */
  const sameOrigin = (req: FastifyRequest) => req.headers.origin === rp.origin;

  app.get<{ Querystring: { t: string; added?: string } }>(
    '/passkey/step',
    { schema: { querystring: { type: 'object', required: ['t'], properties: { t: TICKET, added: { type: 'string', maxLength: 8 } } } } },
    async (req, reply) => {
      const t = open(req.query.t);
      return page(reply, req.query.t, t, 200, undefined, req.query.added ? 'Passkey added. Now use it to finish logging in.' : undefined);
    },
  );

  app.post<{ Body: { t: string } }>(
    '/passkey/step/options',
    { ...d.postLimit, schema: { body: { type: 'object', required: ['t'], properties: { t: TICKET } } } },
    async (req, reply) => {
      let t: StepTicket;
      try {
        t = open(req.body.t);
      } catch (err) {
        return jsonError(reply, 400, 'ticket', (err as Error).message || 'The login step is invalid; start again.');
      }
      const flow = flowOf(d, req, reply)!;
      if (t.mode === 'enrol') {
        const options = await registrationOptions(d, t.uid);
        challenges.issue(options.challenge, { purpose: 'enrol', flow, userId: t.uid, ticket: t.jti });
        return reply.header('cache-control', 'no-store').send(options);
      }
      const allowCredentials = d.view.ofUser(t.uid).map((k) => ({ id: k.credentialId, transports: k.transports as never }));
      const options = await generateAuthenticationOptions({
        rpID: rp.id,
        userVerification: 'preferred',
        allowCredentials,
        timeout: 120_000,
      });
      challenges.issue(options.challenge, { purpose: 'step', flow, userId: t.uid, ticket: t.jti });
      return reply.header('cache-control', 'no-store').send(options);
    },
  );

  /** The challenge this browser was given for this ticket, used up; null when there is none (expired, replayed, another browser). */
  const challengeFor = (req: FastifyRequest, clientDataJSON: unknown, purpose: 'step' | 'enrol', t: StepTicket): string | null => {
    const challenge = answeredChallenge(clientDataJSON);
    const flow = flowOf(d, req);
    const pending = challenge && flow ? challenges.consume(challenge, purpose, flow) : undefined;
    return pending && pending.userId === t.uid && pending.ticket === t.jti ? challenge : null;
  };

  app.post<{ Body: { t: string; response: string } }>(
    '/passkey/step/verify',
    {
      ...d.postLimit,
      schema: {
        body: { type: 'object', required: ['t', 'response'], properties: { t: TICKET, response: { type: 'string', maxLength: 16384 } } },
      },
    },
    async (req, reply) => {
      const t = open(req.body.t, 'assert');
      const response = parseResponse<AuthenticationResponseJSON>(req.body.response);
      if (!response) return page(reply, req.body.t, t, 400, 'The passkey answer could not be read. Try again.');
      const challenge = challengeFor(req, response.response?.clientDataJSON, 'step', t);
      if (!challenge) return page(reply, req.body.t, t, 400, 'This passkey prompt expired or was already used. Try again.');
      const out = await verifyAssertion(d, req, response, challenge, t.uid);
      if (!out.ok) return page(reply, req.body.t, t, out.status, out.message);
      await tickets.consume(t);
      return finish(req, reply, t, ['hwk', 'mfa']); // a password (or federated login) and a passkey: two factors
    },
  );

  app.post<{ Body: { t: string; response: string; name?: string } }>(
    '/passkey/step/enrol',
    {
      ...d.postLimit,
      schema: {
        body: {
          type: 'object',
          required: ['t', 'response'],
          properties: { t: TICKET, response: { type: 'string', maxLength: 32768 }, name: { type: 'string', maxLength: 64 } },
        },
      },
    },
    async (req, reply) => {
      const t = open(req.body.t, 'enrol');
      const response = parseResponse<RegistrationResponseJSON>(req.body.response);
      if (!response) return page(reply, req.body.t, t, 400, 'The passkey answer could not be read. Try again.');
      const challenge = challengeFor(req, response.response?.clientDataJSON, 'enrol', t);
      if (!challenge) return page(reply, req.body.t, t, 400, 'This passkey prompt expired or was already used. Try again.');
      const out = await registerCredential(d, t.uid, response, challenge, req.body.name, `user:${t.uid}`);
      if (!out.ok) return page(reply, req.body.t, t, out.status, out.message);
      await tickets.consume(t);
      // No attestation ("none") proves the key is held: the new passkey is used once to finish the login.
      return continueWith(reply, t, 'assert', 'added');
    },
  );

  // Lost passkey: a recovery code of the account's two-factor setup stands in for it, as it does for a TOTP code.
  app.post<{ Body: { t: string; code: string } }>(
    '/passkey/step/recovery',
    {
      ...d.postLimit,
      schema: { body: { type: 'object', required: ['t', 'code'], properties: { t: TICKET, code: { type: 'string', maxLength: 64 } } } },
    },
    async (req, reply) => {
      if (!sameOrigin(req)) return web.errorPage(reply, 403, 'Forbidden', "This form can only be sent from the broker's own page.");
      const t = open(req.body.t, 'assert');
      const user = await ctx.users.load(t.uid);
      const index = user.totp ? recovery.find(req.body.code, user.totp.recoveryCodeHashes) : -1;
      const refuse = async () => {
        await recordFailure(d, req, t.uid, 'bad_recovery_code', null);
        return page(reply, req.body.t, t, 401, 'That recovery code is not valid or was already used.');
      };
      if (index < 0) return refuse();
      try {
        await ctx.users.execute(t.uid, { type: 'useRecoveryCode', index }, { actor: `user:${t.uid}` });
      } catch (err) {
        if (err instanceof CommandRejected) return refuse();
        throw err;
      }
      await tickets.consume(t);
      const covered = ctx.config.require === 'everyone' || (ctx.config.require === 'admins' && user.admin);
      // Required by the deployment: the recovery code gets them to enrol a new passkey, not around the rule.
      if (covered)
        return continueWith(reply, { ...t, identity: { ...t.identity, amr: [...new Set([...t.identity.amr, 'mfa'])] } }, 'enrol');
      return finish(req, reply, t, ['mfa']);
    },
  );
}
