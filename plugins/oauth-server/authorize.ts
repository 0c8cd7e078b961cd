import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  type Clock,
  type EventStore,
  type Ids,
  type LoginRequest,
  type LoginRequestCodec,
  type ProjectionEngine,
  type ResumeAction,
  type SessionView,
  type WebKit,
  html,
  layout,
} from '../../plugin/index.js';
import type { Client, ClientRegistry } from './clients.js';
import type { CodeCodec } from './codes.js';
import type { OAuthError } from './errors.js';
import { consentStream } from './events.js';
import type { OAuthGrantsView } from './grants-view.js';
import { singleParams, splitScope, withParams } from './params.js';

export interface AuthorizeDeps {
  web: WebKit;
  clients: ClientRegistry;
  grants: OAuthGrantsView;
  codes: CodeCodec;
  store: EventStore;
  projections: ProjectionEngine;
  clock: Clock;
  ids: Ids;
  issuer: string;
  codeTtlSeconds: number;
  csrfKey: Buffer;
  tickets: LoginRequestCodec;
}

const CHALLENGE = /^[A-Za-z0-9_-]{43}$/; // RFC 7636 §4.2: BASE64URL(SHA256) is 43 characters

/** When the user last authenticated (`auth_time`, OIDC Core §2): the session's start, in Unix seconds. */
const authTimeOf = (s: SessionView): number => Math.floor(Date.parse(s.createdAt) / 1000);

/**
 * The authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2) and the consent page. Until the
 * client and redirect URI are known good, errors are shown as a page and never redirected
 * (RFC 6749 §4.1.2.1, RFC 9700 §4.11: no open redirector).
 */
export function registerAuthorize(d: AuthorizeDeps): (request: LoginRequest, session: SessionView) => Promise<ResumeAction> {
  const { web } = d;

  const errorRedirect = (p: Record<string, string | undefined>, redirectUri: string, error: string, description: string): string =>
    // RFC 9207: iss in every authorization response, error ones included.
    withParams(redirectUri, { error, error_description: description, state: p.state, iss: d.issuer });

  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    let p: Record<string, string | undefined>;
    try {
      p = singleParams(req.method === 'POST' ? req.body : req.query);
    } catch (err) {
      return web.errorPage(reply, 400, 'Invalid request', (err as OAuthError).description ?? 'invalid_request');
    }
    const client = d.clients.get(p.client_id);
    if (!client)
      return web.errorPage(reply, 400, 'Unknown application', 'The application that sent you here is not registered (invalid client_id).');
    let redirectUri: string;
    if (p.redirect_uri !== undefined) {
      // RFC 9700 §4.1.3: exact string match.
      if (!client.redirectUris.includes(p.redirect_uri))
        return web.errorPage(reply, 400, 'Invalid redirect', 'The redirect_uri is not registered for this application.');
      redirectUri = p.redirect_uri;
    } else if (client.redirectUris.length === 1) {
      redirectUri = client.redirectUris[0];
    } else {
      return web.errorPage(reply, 400, 'Invalid redirect', 'redirect_uri is required for this application.');
    }
    const fail = (error: string, description: string) => reply.redirect(errorRedirect(p, redirectUri, error, description), 303);

    // The request travels in the signed login-request token (the core caps it at 8 KiB).
    for (const k of ['state', 'nonce'] as const) if ((p[k]?.length ?? 0) > 1024) return fail('invalid_request', `${k} is too long`);
    if (p.request !== undefined || p.request_uri !== undefined) return fail('request_not_supported', 'request objects are not supported');
    if (p.response_type !== 'code') return fail('unsupported_response_type', 'only response_type=code is supported');
    if (p.response_mode !== undefined && p.response_mode !== 'query')
      return fail('invalid_request', 'only response_mode=query is supported');
    if (!client.grantTypes.includes('authorization_code'))
      return fail('unauthorized_client', 'this client may not use the authorization code grant');
    if (p.code_challenge === undefined) {
      if (client.isPublic) return fail('invalid_request', 'code_challenge (PKCE, S256) is required for public clients');
      if (p.code_challenge_method !== undefined) return fail('invalid_request', 'code_challenge_method without code_challenge');
    } else {
      if ((p.code_challenge_method ?? 'plain') !== 'S256') return fail('invalid_request', 'code_challenge_method must be S256');
      if (!CHALLENGE.test(p.code_challenge)) return fail('invalid_request', 'code_challenge is malformed');
    }
    const scopes = splitScope(p.scope ?? client.scopes.filter((s) => s !== 'offline_access').join(' '));
    if (!scopes) return fail('invalid_scope', 'scope is malformed');
    if (!scopes.every((s) => client.scopes.includes(s))) return fail('invalid_scope', 'scope is not allowed for this client');
    // OIDC Core §3.1.2.1: `none` alone or not at all; `login` forces a fresh login; `consent` is
    // honoured in resume(); `max_age` makes a session authenticated longer ago log in again.
    const prompts = (p.prompt ?? '').split(' ').filter(Boolean);
    if (prompts.includes('none') && prompts.length > 1) return fail('invalid_request', 'prompt=none cannot be combined with another value');
    if (p.max_age !== undefined && !/^\d{1,9}$/.test(p.max_age)) return fail('invalid_request', 'max_age must be a non-negative integer');
    const session = web.session(req);
    const nowSeconds = Math.floor(d.clock.now().getTime() / 1000);
    const tooOld = !!session && p.max_age !== undefined && (p.max_age === '0' || nowSeconds - authTimeOf(session) > Number(p.max_age));
    if (prompts.includes('none') && !session) return fail('login_required', 'no session and prompt=none');
    if (prompts.includes('none') && tooOld) return fail('login_required', 'the login is older than max_age and prompt=none');

    const params: Record<string, string> = {
      client_id: client.clientId,
      redirect_uri: redirectUri,
      rg: p.redirect_uri !== undefined ? '1' : '0',
      scope: scopes.join(' '),
    };
    for (const k of ['state', 'nonce', 'code_challenge', 'prompt'] as const) if (p[k] !== undefined) params[k] = p[k]!;
    return web.beginLogin(req, reply, { protocol: 'oauth', params, forceLogin: prompts.includes('login') || tooOld });
  };
  web.app.get('/oauth/authorize', handler);
  web.app.post('/oauth/authorize', handler);

  const issueCode = (client: Client, params: Record<string, string>, s: SessionView): string => {
    const code = d.codes.seal({
      jti: d.ids.token(16),
      clientId: client.clientId,
      redirectUri: params.redirect_uri,
      redirectUriGiven: params.rg === '1',
      scope: params.scope,
      nonce: params.nonce ?? null,
      codeChallenge: params.code_challenge ?? null,
      userId: s.userId,
      sessionId: s.sessionId,
      authTime: authTimeOf(s),
      exp: Math.floor(d.clock.now().getTime() / 1000) + d.codeTtlSeconds,
    });
    return withParams(params.redirect_uri, { code, state: params.state, iss: d.issuer });
  };

  const csrfFor = (sessionId: string, jti: string): string =>
    createHmac('sha256', d.csrfKey).update(`${sessionId}.${jti}`).digest('base64url');

  const resume = async (request: LoginRequest, s: SessionView): Promise<ResumeAction> => {
    const params = request.params;
    const client = d.clients.get(params.client_id);
    if (!client || !client.redirectUris.includes(params.redirect_uri)) {
      return {
        kind: 'html',
        status: 400,
        html: layout('Invalid request', html`<h1>Invalid request</h1><p class="error">The application is no longer registered.</p>`),
      };
    }
    const scopes = params.scope ? params.scope.split(' ') : [];
    const prompts = (params.prompt ?? '').split(' ');
    // prompt=consent (OIDC Core §3.1.2.1): ask again, even when consent is remembered or the client is first-party.
    const remembered = client.firstParty || d.grants.hasConsent(s.userId, client.clientId, scopes);
    if (remembered && !prompts.includes('consent')) return { kind: 'redirect', location: issueCode(client, params, s) };
    if (prompts.includes('none'))
      return { kind: 'redirect', location: errorRedirect(params, params.redirect_uri, 'consent_required', 'consent is required') };
    const now = d.clock.now();
    const jti = d.ids.token(12);
    // Signed with the login-request codec (same key, distinct protocol), so it cannot be forged or resumed as a login.
    const ticket = d.tickets.encode({ protocol: 'oauth-consent', params: { ...params, sid: s.sessionId }, jti }, now, jti);
    return {
      kind: 'html',
      html: layout(
        'Allow access?',
        html`<h1>Allow ${client.name} to access your account?</h1>
<p>${client.name} asks for:</p><ul>${scopes.map((x) => html`<li><code>${x}</code></li>`)}</ul>
<form method="post" action="/oauth/consent" class="stack">
<input type="hidden" name="ticket" value="${ticket}"><input type="hidden" name="csrf" value="${csrfFor(s.sessionId, jti)}">
<button type="submit" name="decision" value="allow">Allow</button> <button type="submit" name="decision" value="deny">Deny</button>
</form>`,
      ),
    };
  };

  // The consent form's POST. CSRF: the ticket is signed and bound to the session, and the csrf
  // field is an HMAC over session id and ticket id (RFC 9700 §4.7 / OAuth 2.1 §7.6 clickjacking: frame-ancestors 'none').
  web.app.post('/oauth/consent', async (req, reply) => {
    let body: Record<string, string | undefined>;
    try {
      body = singleParams(req.body);
    } catch {
      return web.errorPage(reply, 400, 'Invalid request', 'The consent form was malformed.');
    }
    const s = web.session(req);
    if (!s) return web.errorPage(reply, 401, 'Not logged in', 'Your session has ended; start again from the application.');
    let ticket: LoginRequest;
    try {
      ticket = web.decodeLoginRequest(body.ticket ?? '');
    } catch {
      return web.errorPage(reply, 400, 'Invalid request', 'The consent form has expired or was tampered with; start again.');
    }
    const csrf = Buffer.from(body.csrf ?? '');
    const want = Buffer.from(csrfFor(s.sessionId, ticket.jti));
    if (
      ticket.protocol !== 'oauth-consent' ||
      ticket.params.sid !== s.sessionId ||
      csrf.length !== want.length ||
      !timingSafeEqual(csrf, want)
    ) {
      return web.errorPage(reply, 403, 'Forbidden', 'The consent form does not belong to this session.');
    }
    const params = ticket.params;
    const client = d.clients.get(params.client_id);
    if (!client || !client.redirectUris.includes(params.redirect_uri))
      return web.errorPage(reply, 400, 'Invalid request', 'The application is no longer registered.');
    const scopes = params.scope ? params.scope.split(' ') : [];
    const allow = body.decision === 'allow';
    const res = await d.store.append(consentStream(s.userId, client.clientId), [
      {
        type: allow ? 'ConsentGranted' : 'ConsentDenied',
        data: { userId: s.userId, clientId: client.clientId, scopes },
        metadata: { actor: `user:${s.userId}` },
      },
    ]);
    await d.projections.waitFor(res.position);
    if (!allow) return reply.redirect(errorRedirect(params, params.redirect_uri, 'access_denied', 'the user denied access'), 303);
    return reply.redirect(issueCode(client, params, s), 303);
  });

  return resume;
}
