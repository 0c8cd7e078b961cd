import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import { html, layout } from '../http/html.js';
import { HandoffVerificationError, verifyHandoff, type HandoffKeys } from '../../plugins/hmac-handoff/verify.js';

/**
 * A tiny downstream site (seed 003, "secret.com"): sends the browser to the broker, verifies the
 * signed handoff with the copy-paste verifier, stores the user and shows them. Kept small and
 * plain on purpose: it is what an integrator reads. A ban webhook route only has to call
 * `site.markBanned(sub)`: banned users lose their sessions and cannot log in again.
 */
export interface DemoUser {
  sub: string;
  email: string;
  name: string;
  banned: boolean;
  lastLoginAt: string;
}

export interface DemoSiteOptions {
  siteId: string;
  title: string;
  keys: HandoffKeys;
  /** The broker's public URL (settable after the broker listens). */
  brokerUrl: string;
  /** This site's public URL (settable after it listens); the callback is `<publicUrl>/callback`. */
  publicUrl: string;
  /** Legacy v1 site: the field order configured on the broker. */
  legacyV1Fields?: string[];
}

export interface DemoSite {
  app: FastifyInstance;
  options: DemoSiteOptions;
  users: Map<string, DemoUser>;
  /** What a ban webhook does: mark the user banned and end their sessions here. */
  markBanned(sub: string): void;
}

const COOKIE = 'demo_session';
const NONCE_COOKIE = 'demo_nonce';

export async function createDemoSite(options: DemoSiteOptions): Promise<DemoSite> {
  const app = Fastify({ logger: false });
  await app.register(fastifyCookie);
  const users = new Map<string, DemoUser>();
  const sessions = new Map<string, string>(); // session id -> sub
  // Broker nonces seen until they expire: a replayed redirect is refused (single process; use a shared store in production).
  const seen = new Map<string, number>();
  const seenNonce = (nonce: string, expiresAt: number): boolean => {
    const now = Date.now();
    for (const [n, t] of seen) if (t < now) seen.delete(n);
    if (seen.has(nonce)) return true;
    seen.set(nonce, expiresAt);
    return false;
  };
  const page = (reply: FastifyReply, title: string, body: ReturnType<typeof html>, status = 200): FastifyReply =>
    reply.code(status).type('text/html; charset=utf-8').send(layout(title, body));
  const callbackUrl = (): string => `${options.publicUrl}/callback`;

  app.get('/', async (req, reply) => {
    const sub = sessions.get(req.cookies[COOKIE] ?? '');
    const user = sub ? users.get(sub) : undefined;
    if (!user || user.banned) {
      return page(reply, options.title, html`<h1>${options.title}</h1><p>You are not logged in.</p><p><a class="button" href="/login">Log in with the broker</a></p>`);
    }
    return page(
      reply,
      options.title,
      html`<h1>${options.title}</h1><p class="ok">Logged in as <strong>${user.name || user.email || user.sub}</strong></p>
<table><tr><th>broker user id</th><td><code>${user.sub}</code></td></tr><tr><th>email</th><td>${user.email}</td></tr><tr><th>name</th><td>${user.name}</td></tr><tr><th>last login</th><td>${user.lastLoginAt}</td></tr></table>
<p><a href="/logout">Log out of this site</a></p>`,
    );
  });

  app.get('/login', async (_req, reply) => {
    const nonce = randomBytes(18).toString('base64url');
    // The nonce ties the answer to this browser's attempt (login CSRF defence); it lives in a short cookie.
    reply.setCookie(NONCE_COOKIE, nonce, { path: '/', httpOnly: true, sameSite: 'lax', maxAge: 600 });
    const url = new URL(`/sso/${encodeURIComponent(options.siteId)}`, options.brokerUrl);
    url.searchParams.set('return_to', callbackUrl());
    url.searchParams.set('nonce', nonce);
    return reply.redirect(url.toString(), 303);
  });

  app.get('/callback', async (req, reply) => {
    const params = new URLSearchParams(req.url.split('?')[1] ?? '');
    const expectedNonce = req.cookies[NONCE_COOKIE];
    try {
      if (!options.legacyV1Fields && !expectedNonce) throw new HandoffVerificationError('nonce_mismatch', 'no login attempt is pending in this browser');
      const v = await verifyHandoff(params, options.keys, {
        now: Date.now(),
        expectedSite: options.siteId,
        expectedNonce: options.legacyV1Fields ? undefined : expectedNonce,
        seenNonce,
        ...(options.legacyV1Fields ? { legacyV1: { fields: options.legacyV1Fields } } : {}),
      });
      const known = users.get(v.sub);
      if (known?.banned) return page(reply, 'Banned', html`<h1>Banned</h1><p class="error">This account is banned on ${options.title}.</p>`, 403);
      users.set(v.sub, { sub: v.sub, email: v.fields.email ?? '', name: v.fields.name ?? '', banned: false, lastLoginAt: new Date().toISOString() });
      const sid = randomBytes(24).toString('base64url');
      sessions.set(sid, v.sub);
      reply.clearCookie(NONCE_COOKIE, { path: '/' });
      reply.setCookie(COOKIE, sid, { path: '/', httpOnly: true, sameSite: 'lax' });
      return reply.redirect('/', 303);
    } catch (err) {
      if (!(err instanceof HandoffVerificationError)) throw err;
      return page(reply, 'Login refused', html`<h1>Login refused</h1><p class="error">${err.message} (<code>${err.code}</code>)</p><p><a href="/login">Try again</a></p>`, 400);
    }
  });

  app.get('/logout', async (req, reply) => {
    sessions.delete(req.cookies[COOKIE] ?? '');
    reply.clearCookie(COOKIE, { path: '/' });
    return reply.redirect('/', 303);
  });

  return {
    app,
    options,
    users,
    markBanned(sub: string) {
      const u = users.get(sub);
      if (u) u.banned = true;
      for (const [sid, s] of sessions) if (s === sub) sessions.delete(sid);
    },
  };
}
