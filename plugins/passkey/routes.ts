import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { WrongExpectedRevision, type AuthenticatedIdentity } from '../../core/index.js';
import type { PluginCtx } from '../../adapters/kernel/boot.js';
import { checkSessionCsrf, csrfTokenFor } from '../../adapters/http/session-csrf.js';
import type { Challenges } from './challenges.js';
import { passkeyStream } from './events.js';
import { loginPage, managePage } from './pages.js';
import type { PasskeysView } from './passkeys-view.js';
import type { RelyingParty } from './rp.js';
import { PASSKEY_SCRIPT } from './script.js';
import type { PasskeyConfig } from './config.js';

export const IDP_ID = 'passkey';
const FLOW_COOKIE = 'broker_passkey_flow';
const META = (actor: string) => ({ actor });

interface Deps {
  ctx: PluginCtx<PasskeyConfig>;
  view: PasskeysView;
  challenges: Challenges;
  rp: RelyingParty;
}

/** The challenge a client answered, read from its clientDataJSON (verified again by the library). */
function answeredChallenge(clientDataJSON: unknown): string | null {
  if (typeof clientDataJSON !== 'string' || clientDataJSON.length > 8192) return null;
  try {
    const c = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof c.challenge === 'string' ? c.challenge : null;
  } catch {
    return null;
  }
}

export function registerPasskeyRoutes(d: Deps): void {
  const { ctx, view, challenges, rp } = d;
  const web = ctx.web;
  const app = web.app;
  const secure = web.cookieName.startsWith('__Host-');
  const json = (reply: FastifyReply, status: number, error: string, message: string) => reply.code(status).send({ error, message });

  /** The browser flow id: a SameSite=Strict cookie, so a challenge issued to one browser cannot be answered by a form posted from another site. */
  const flowOf = (req: FastifyRequest, reply?: FastifyReply): string | null => {
    const have = web.cookies(req)[FLOW_COOKIE];
    if (have && /^[\w-]{22}$/.test(have)) return have;
    if (!reply) return null;
    const flow = randomBytes(16).toString('base64url');
    reply.setCookie(FLOW_COOKIE, flow, { path: '/passkey', httpOnly: true, secure, sameSite: 'strict', maxAge: 600 });
    return flow;
  };
  /** A session whose login is recent enough to add or remove a credential (re-authentication, NIST 800-63B §7.2). */
  const freshSession = (req: FastifyRequest) => {
    const s = web.session(req);
    if (!s) return { s: null, fresh: false };
    return { s, fresh: ctx.clock.now().getTime() - Date.parse(s.createdAt) <= ctx.config.freshLoginSeconds * 1000 };
  };

  app.get('/passkey/passkey.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=300').send(PASSKEY_SCRIPT));

  // --- login with a passkey alone (discoverable credential, no user name)
  app.get<{ Querystring: { lr?: string } }>('/passkey/login', { schema: { querystring: { type: 'object', properties: { lr: { type: 'string', maxLength: 8192 } } } } }, async (req, reply) => {
    const lr = req.query.lr ?? '';
    if (!lr) return web.beginLogin(req, reply, { protocol: 'return_to', params: { return_to: '/passkey/manage' }, idp: IDP_ID });
    const request = web.decodeLoginRequest(lr);
    if (!request.forceLogin && web.session(req)) return web.beginLogin(req, reply, request);
    return web.page(reply, 'Log in with a passkey', loginPage({ lr }));
  });

  app.post<{ Body: { lr?: string } }>('/passkey/login/options', { schema: { body: { type: 'object', properties: { lr: { type: 'string', maxLength: 8192 } } } } }, async (req, reply) => {
    const lr = req.body?.lr ?? '';
    if (lr) web.decodeLoginRequest(lr);
    const options = await generateAuthenticationOptions({ rpID: rp.id, userVerification: 'preferred', allowCredentials: [], timeout: 120_000 });
    challenges.issue(options.challenge, { purpose: 'login', flow: flowOf(req, reply)!, lr });
    return reply.header('cache-control', 'no-store').send(options);
  });

  app.post<{ Body: { response: string; lr?: string } }>(
    '/passkey/login/verify',
    { schema: { body: { type: 'object', required: ['response'], properties: { response: { type: 'string', maxLength: 16384 }, lr: { type: 'string', maxLength: 8192 } } } } },
    async (req, reply) => {
      const lr = req.body.lr ?? '';
      const again = (status: number, error: string) => web.page(reply, 'Log in with a passkey', loginPage({ lr, error }), status);
      const fail = async (userId: string | null, reason: string, subject: string | null) => {
        const pos = await ctx.login.recordFailure({ userId, issuer: IDP_ID, subject, reason }, { ip: req.ip, userAgent: String(req.headers['user-agent'] ?? ''), idp: IDP_ID });
        await ctx.projections.waitFor(pos);
      };
      let response: AuthenticationResponseJSON;
      try {
        response = JSON.parse(req.body.response) as AuthenticationResponseJSON;
      } catch {
        return again(400, 'The passkey answer could not be read. Try again.');
      }
      const challenge = answeredChallenge(response?.response?.clientDataJSON);
      const flow = flowOf(req);
      const pending = challenge && flow ? challenges.consume(challenge, 'login', flow) : undefined;
      if (!pending || pending.lr !== lr) return again(400, 'This passkey prompt expired or was already used. Try again.');
      const key = typeof response.id === 'string' ? view.get(response.id) : undefined;
      if (!key) {
        await fail(null, 'unknown_passkey', null);
        return again(401, 'This passkey is not registered here.');
      }
      // The user handle the authenticator returned must be the account the credential belongs to.
      if (response.response.userHandle && Buffer.from(response.response.userHandle, 'base64url').toString('utf8') !== key.userId) {
        await fail(key.userId, 'passkey_user_mismatch', key.credentialId);
        return again(401, 'This passkey does not belong to the account it names.');
      }
      let verified;
      try {
        verified = await verifyAuthenticationResponse({
          response,
          expectedChallenge: challenge!,
          expectedOrigin: rp.origin,
          expectedRPID: rp.id,
          requireUserVerification: false,
          credential: { id: key.credentialId, publicKey: Buffer.from(key.publicKey, 'base64url'), counter: key.counter, transports: key.transports as never },
        });
      } catch (err) {
        const m = /counter value (\d+) was lower than expected (\d+)/.exec((err as Error).message);
        if (m) {
          // A counter that does not move forward: two authenticators hold this key (WebAuthn §6.1.1).
          await ctx.store.append(passkeyStream(key.credentialId), [{ type: 'PasskeyCounterRejected', data: { userId: key.userId, credentialId: key.credentialId, stored: key.counter, presented: Number(m[1]) }, metadata: META(`plugin:${IDP_ID}`) }]);
          await fail(key.userId, 'passkey_counter', key.credentialId);
          return again(401, 'This passkey looks cloned (its signature counter went backwards). It was refused and the attempt recorded.');
        }
        await fail(key.userId, 'passkey_invalid', key.credentialId);
        return again(401, 'The passkey answer did not verify.');
      }
      const info = verified.authenticationInfo;
      try {
        // At the revision read: two racing logins with one counter value cannot both pass.
        const r = await ctx.store.append(passkeyStream(key.credentialId), [{ type: 'PasskeyUsed', data: { userId: key.userId, credentialId: key.credentialId, counter: info.newCounter, backedUp: info.credentialBackedUp }, metadata: META(`plugin:${IDP_ID}`) }], { expectedRevision: key.revision });
        await ctx.projections.waitFor(r.position);
      } catch (err) {
        if (!(err instanceof WrongExpectedRevision)) throw err;
        await fail(key.userId, 'passkey_race', key.credentialId);
        return again(409, 'This passkey was used at the same moment elsewhere. Try again.');
      }
      const user = ctx.read.users.get(key.userId);
      const identity: AuthenticatedIdentity = { issuer: IDP_ID, subject: key.credentialId, userId: key.userId, email: user?.email ?? null, name: user?.name ?? null, amr: info.userVerified ? ['hwk', 'mfa'] : ['hwk'] };
      return web.finishLogin(req, reply, identity, lr || undefined, IDP_ID);
    },
  );

  // --- managing one's passkeys (a session, and a fresh login to add or remove one)
  const reauth = (req: FastifyRequest, reply: FastifyReply) =>
    web.beginLogin(req, reply, { protocol: 'return_to', params: { return_to: '/passkey/manage' }, forceLogin: true } as never);

  app.get<{ Querystring: { added?: string; removed?: string; renamed?: string; required?: string } }>('/passkey/manage', async (req, reply) => {
    const { s } = freshSession(req);
    if (!s) return web.beginLogin(req, reply, { protocol: 'return_to', params: { return_to: '/passkey/manage' } });
    const q = req.query;
    const message = q.added ? 'Passkey added. Your next login can use it.' : q.removed ? 'Passkey removed.' : q.renamed ? 'Passkey renamed.' : undefined;
    return web.page(reply, 'Your passkeys', managePage({ keys: view.ofUser(s.userId), csrf: csrfTokenFor(req, web.cookieName)!, message, required: !!q.required }));
  });

  app.post('/passkey/register/options', async (req, reply) => {
    const { s, fresh } = freshSession(req);
    if (!s) return json(reply, 401, 'login_required', 'Log in first.');
    if (!checkSessionCsrf(req, web.cookieName)) return json(reply, 403, 'csrf', 'The page expired; reload it.');
    if (!fresh) return json(reply, 403, 'reauthentication_required', `Log in again (within ${ctx.config.freshLoginSeconds} s) to add a passkey.`);
    const user = ctx.read.users.get(s.userId);
    const options = await generateRegistrationOptions({
      rpName: rp.name,
      rpID: rp.id,
      userID: Buffer.from(s.userId, 'utf8'),
      userName: user?.email ?? s.userId,
      userDisplayName: user?.name ?? user?.email ?? '',
      attestationType: 'none',
      excludeCredentials: view.ofUser(s.userId).map((k) => ({ id: k.credentialId, transports: k.transports as never })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
      timeout: 120_000,
    });
    challenges.issue(options.challenge, { purpose: 'register', flow: flowOf(req, reply)!, userId: s.userId });
    return reply.header('cache-control', 'no-store').send(options);
  });

  app.post<{ Body: { response: RegistrationResponseJSON; name?: string } }>(
    '/passkey/register/verify',
    { bodyLimit: 32 * 1024, schema: { body: { type: 'object', required: ['response'], properties: { response: { type: 'object' }, name: { type: 'string', maxLength: 64 } } } } },
    async (req, reply) => {
      const { s, fresh } = freshSession(req);
      if (!s) return json(reply, 401, 'login_required', 'Log in first.');
      if (!checkSessionCsrf(req, web.cookieName)) return json(reply, 403, 'csrf', 'The page expired; reload it.');
      if (!fresh) return json(reply, 403, 'reauthentication_required', 'Log in again to add a passkey.');
      const challenge = answeredChallenge(req.body.response?.response?.clientDataJSON);
      const flow = flowOf(req);
      const pending = challenge && flow ? challenges.consume(challenge, 'register', flow) : undefined;
      if (!pending || pending.userId !== s.userId) return json(reply, 400, 'challenge', 'This prompt expired or was already used. Try again.');
      let verified;
      try {
        verified = await verifyRegistrationResponse({ response: req.body.response, expectedChallenge: challenge!, expectedOrigin: rp.origin, expectedRPID: rp.id, requireUserVerification: false });
      } catch (err) {
        return json(reply, 400, 'invalid_registration', `The passkey could not be registered: ${(err as Error).message}`);
      }
      if (!verified.verified || !verified.registrationInfo) return json(reply, 400, 'invalid_registration', 'The passkey could not be verified.');
      const { credential, credentialDeviceType, credentialBackedUp } = verified.registrationInfo;
      const name = (req.body.name ?? '').trim() || 'Passkey';
      try {
        const r = await ctx.store.append(
          passkeyStream(credential.id),
          [{ type: 'PasskeyRegistered', data: { userId: s.userId, credentialId: credential.id, publicKey: Buffer.from(credential.publicKey).toString('base64url'), counter: credential.counter, transports: credential.transports ?? [], deviceType: credentialDeviceType, backedUp: credentialBackedUp, name }, metadata: META(`user:${s.userId}`) }],
          { expectedRevision: 'no_stream' },
        );
        await ctx.projections.waitFor(r.position);
      } catch (err) {
        if (err instanceof WrongExpectedRevision) return json(reply, 409, 'already_registered', 'This passkey is already registered.');
        throw err;
      }
      return reply.send({ ok: true, credentialId: credential.id });
    },
  );

  /** Rename and remove: a form with the session's CSRF token, for the session's own passkeys. */
  const own = (req: FastifyRequest<{ Body: { credentialId: string } }>, reply: FastifyReply, needFresh: boolean) => {
    const { s, fresh } = freshSession(req);
    if (!s) return { stop: web.beginLogin(req, reply, { protocol: 'return_to', params: { return_to: '/passkey/manage' } }) };
    if (!checkSessionCsrf(req, web.cookieName)) return { stop: web.errorPage(reply, 403, 'Expired form', 'The page expired; go back and reload it.') };
    if (needFresh && !fresh) return { stop: reauth(req, reply) };
    const key = view.get(req.body.credentialId);
    if (!key || key.userId !== s.userId) return { stop: web.errorPage(reply, 404, 'Not found', 'No such passkey on your account.') };
    return { s, key };
  };
  const formSchema = (extra: Record<string, unknown> = {}) => ({
    schema: { body: { type: 'object', required: ['credentialId', ...Object.keys(extra)], properties: { credentialId: { type: 'string', maxLength: 1024 }, _csrf: { type: 'string', maxLength: 256 }, ...extra } } },
  });

  app.post<{ Body: { credentialId: string } }>('/passkey/remove', formSchema(), async (req, reply) => {
    const o = own(req, reply, true);
    if ('stop' in o) return o.stop;
    const r = await ctx.store.append(passkeyStream(o.key.credentialId), [{ type: 'PasskeyRemoved', data: { userId: o.s.userId, credentialId: o.key.credentialId }, metadata: META(`user:${o.s.userId}`) }]);
    await ctx.projections.waitFor(r.position);
    return reply.redirect('/passkey/manage?removed=1', 303);
  });

  app.post<{ Body: { credentialId: string; name: string } }>('/passkey/rename', formSchema({ name: { type: 'string', minLength: 1, maxLength: 64 } }), async (req, reply) => {
    const o = own(req, reply, false);
    if ('stop' in o) return o.stop;
    const r = await ctx.store.append(passkeyStream(o.key.credentialId), [{ type: 'PasskeyRenamed', data: { userId: o.s.userId, credentialId: o.key.credentialId, name: req.body.name.trim() }, metadata: META(`user:${o.s.userId}`) }]);
    await ctx.projections.waitFor(r.position);
    return reply.redirect('/passkey/manage?renamed=1', 303);
  });
}
