import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import { html, layout, STYLESHEET } from '../http/html.js';
import { HandoffVerificationError, verifyHandoff, type HandoffKeys } from '../../plugins/hmac-handoff/verify.js';
import { BanWebhookInvalid, verifyBanWebhook, type VerifiedBanWebhook } from '../../plugins/ban-broadcast/verify.js';

/**
 * A tiny downstream site (seed 003, "secret.com"): sends the browser to the broker, verifies the
 * signed handoff with the copy-paste verifier, stores the user and shows them. Kept small and
 * plain on purpose: it is what an integrator reads. With a webhook secret it also takes the
 * broker's ban webhooks (`POST /webhooks/broker`, docs/downstream-sites.md "Ban webhooks"):
 * banned users lose their sessions here and cannot log in again.
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
  /** `whsec_...` secret of this site's ban webhook on the broker; without it there is no webhook route. */
  webhookSecret?: string;
}

/** Where the broker POSTs this site's ban webhooks (configure `<publicUrl>/webhooks/broker` on the broker). */
export const DEMO_WEBHOOK_PATH = '/webhooks/broker';

export interface DemoSite {
  app: FastifyInstance;
  options: DemoSiteOptions;
  users: Map<string, DemoUser>;
  /** What a ban webhook does: mark the user banned (known here yet or not) and end their sessions here. */
  markBanned(sub: string): void;
  /** What an unban webhook does: the user may log in again. */
  markUnbanned(sub: string): void;
  isBanned(sub: string): boolean;
}

const COOKIE = 'demo_session';
const NONCE_COOKIE = 'demo_nonce';

export async function createDemoSite(options: DemoSiteOptions): Promise<DemoSite> {
  const app = Fastify({ logger: false });
  await app.register(fastifyCookie);
  const users = new Map<string, DemoUser>();
  const sessions = new Map<string, string>(); // session id -> sub
  // Banned by the broker, including users who never logged in here: the broker refuses them anyway, but a site keeps its own word.
  const banned = new Set<string>();
  const markBanned = (sub: string): void => {
    banned.add(sub);
    const u = users.get(sub);
    if (u) u.banned = true;
    for (const [sid, s] of sessions) if (s === sub) sessions.delete(sid);
  };
  const markUnbanned = (sub: string): void => {
    banned.delete(sub);
    const u = users.get(sub);
    if (u) u.banned = false;
  };
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

  // The page layout links the broker's stylesheet by path: serve the same one from this origin.
  app.get('/assets/broker.css', async (_req, reply) =>
    reply.type('text/css').header('cache-control', 'public, max-age=3600').send(STYLESHEET),
  );

  app.get('/', async (req, reply) => {
    const sub = sessions.get(req.cookies[COOKIE] ?? '');
    const user = sub ? users.get(sub) : undefined;
    if (!user || user.banned) {
      return page(
        reply,
        options.title,
        html`<h1>${options.title}</h1><p>You are not logged in.</p><p><a class="button" href="/login">Log in with the broker</a></p>`,
      );
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
      if (!options.legacyV1Fields && !expectedNonce)
        throw new HandoffVerificationError('nonce_mismatch', 'no login attempt is pending in this browser');
      const v = await verifyHandoff(params, options.keys, {
        now: Date.now(),
        expectedSite: options.siteId,
        expectedNonce: options.legacyV1Fields ? undefined : expectedNonce,
        seenNonce,
        ...(options.legacyV1Fields ? { legacyV1: { fields: options.legacyV1Fields } } : {}),
      });
      if (banned.has(v.sub))
        return page(reply, 'Banned', html`<h1>Banned</h1><p class="error">This account is banned on ${options.title}.</p>`, 403);
      users.set(v.sub, {
        sub: v.sub,
        email: v.fields.email ?? '',
        name: v.fields.name ?? '',
        banned: false,
        lastLoginAt: new Date().toISOString(),
      });
      const sid = randomBytes(24).toString('base64url');
      sessions.set(sid, v.sub);
      reply.clearCookie(NONCE_COOKIE, { path: '/' });
      reply.setCookie(COOKIE, sid, { path: '/', httpOnly: true, sameSite: 'lax' });
      return reply.redirect('/', 303);
    } catch (err) {
      if (!(err instanceof HandoffVerificationError)) throw err;
      return page(
        reply,
        'Login refused',
        html`<h1>Login refused</h1><p class="error">${err.message} (<code>${err.code}</code>)</p><p><a href="/login">Try again</a></p>`,
        400,
      );
    }
  });

  app.get('/logout', async (req, reply) => {
    sessions.delete(req.cookies[COOKIE] ?? '');
    reply.clearCookie(COOKIE, { path: '/' });
    return reply.redirect('/', 303);
  });

  const webhookSecret = options.webhookSecret;
  if (webhookSecret) {
    // Per user, the ban time of the last change applied: a retried old ban arriving after the unban
    // (deliveries are at least once, in no promised order) must not ban the user again.
    const applied = new Map<string, string>();
    await app.register(async (scope) => {
      // The signature covers the exact bytes sent: verify the raw body, parse only after.
      scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));
      scope.post(DEMO_WEBHOOK_PATH, async (req, reply) => {
        if (typeof req.body !== 'string') return reply.code(415).send({ error: 'expected application/json' });
        let hook: VerifiedBanWebhook;
        try {
          hook = verifyBanWebhook(webhookSecret, req.headers, req.body);
        } catch (err) {
          if (err instanceof BanWebhookInvalid) return reply.code(401).send({ error: 'invalid webhook signature' });
          if (err instanceof SyntaxError) return reply.code(400).send({ error: 'body is not JSON' });
          throw err;
        }
        const sub = hook.data?.userId;
        if (typeof sub !== 'string' || typeof hook.timestamp !== 'string')
          return reply.code(400).send({ error: 'no data.userId or timestamp' });
        if ((applied.get(sub) ?? '') > hook.timestamp) return reply.code(204).send(); // older than what we know: acknowledged, ignored
        applied.set(sub, hook.timestamp);
        if (hook.type === 'user.banned') markBanned(sub);
        else if (hook.type === 'user.unbanned') markUnbanned(sub);
        else if (hook.type === 'user.erased') {
          markBanned(sub); // the id is never reused; forget what this site stored about them
          users.delete(sub);
        }
        return reply.code(204).send();
      });
    });
  }

  return { app, options, users, markBanned, markUnbanned, isBanned: (sub) => banned.has(sub) };
}
