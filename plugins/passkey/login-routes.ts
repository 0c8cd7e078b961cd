import { generateAuthenticationOptions, type AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { AuthenticatedIdentity } from '../../plugin/index.js';
import { verifyAssertion } from './assertion.js';
import { answeredChallenge, flowOf, IDP_ID, parseResponse, type Deps } from './deps.js';
import { loginPage } from './pages.js';
import { PASSKEY_SCRIPT } from './script.js';

/** The page script, and a login with a passkey alone (a discoverable credential: no user name typed). */
export function registerLoginRoutes(d: Deps): void {
  const { ctx, challenges, rp } = d;
  const web = ctx.web;
  const app = web.app;

  // The broker's own file, under the page CSP's script-src 'self' (no CDN, no inline script).
  app.get('/passkey/passkey.js', async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=300').send(PASSKEY_SCRIPT),
  );

  app.get<{ Querystring: { lr?: string } }>(
    '/passkey/login',
    { schema: { querystring: { type: 'object', properties: { lr: { type: 'string', maxLength: 8192 } } } } },
    async (req, reply) => {
      const lr = req.query.lr ?? '';
      if (!lr) return web.beginLogin(req, reply, { protocol: 'return_to', params: { return_to: '/passkey/manage' }, idp: IDP_ID });
      const request = web.decodeLoginRequest(lr);
      if (!request.forceLogin && web.session(req)) return web.beginLogin(req, reply, request);
      return web.page(reply, 'Log in with a passkey', loginPage({ lr }));
    },
  );

  app.post<{ Body: { lr?: string } }>(
    '/passkey/login/options',
    { ...d.postLimit, schema: { body: { type: 'object', properties: { lr: { type: 'string', maxLength: 8192 } } } } },
    async (req, reply) => {
      const lr = req.body?.lr ?? '';
      if (lr) web.decodeLoginRequest(lr);
      // No allowCredentials: the authenticator offers its discoverable credentials for this RP (§5.4.4).
      const options = await generateAuthenticationOptions({
        rpID: rp.id,
        userVerification: 'preferred',
        allowCredentials: [],
        timeout: 120_000,
      });
      challenges.issue(options.challenge, { purpose: 'login', flow: flowOf(d, req, reply)!, lr });
      return reply.header('cache-control', 'no-store').send(options);
    },
  );

  app.post<{ Body: { response: string; lr?: string } }>(
    '/passkey/login/verify',
    {
      ...d.postLimit,
      schema: {
        body: {
          type: 'object',
          required: ['response'],
          properties: { response: { type: 'string', maxLength: 16384 }, lr: { type: 'string', maxLength: 8192 } },
        },
      },
    },
    async (req, reply) => {
      const lr = req.body.lr ?? '';
      const again = (status: number, error: string) => web.page(reply, 'Log in with a passkey', loginPage({ lr, error }), status);
      const response = parseResponse<AuthenticationResponseJSON>(req.body.response);
      if (!response) return again(400, 'The passkey answer could not be read. Try again.');
      const challenge = answeredChallenge(response.response?.clientDataJSON);
      const flow = flowOf(d, req);
      const pending = challenge && flow ? challenges.consume(challenge, 'login', flow) : undefined;
      if (!pending || pending.lr !== lr) return again(400, 'This passkey prompt expired or was already used. Try again.');
      const out = await verifyAssertion(d, req, response, challenge!);
      if (!out.ok) return again(out.status, out.message);
      const user = ctx.read.users.get(out.key.userId);
      // RFC 8176: `hwk` (a hardware-bound key); with user verification (PIN, biometrics) it is two factors.
      const identity: AuthenticatedIdentity = {
        issuer: IDP_ID,
        subject: out.key.credentialId,
        userId: out.key.userId,
        email: user?.email ?? null,
        name: user?.name ?? null,
        amr: out.userVerified ? ['hwk', 'mfa'] : ['hwk'],
      };
      return web.finishLogin(req, reply, identity, lr || undefined, IDP_ID);
    },
  );
}
