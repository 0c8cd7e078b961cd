import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import * as jose from 'jose';
import { useOnce, type EventStore, type Clock } from '../../plugin/index.js';
import type { AuthMethod, ClientConfig, GrantType } from './config.js';
import { OAuthError } from './errors.js';

export interface Client {
  clientId: string;
  name: string;
  authMethod: AuthMethod;
  isPublic: boolean;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  scopes: string[];
  grantTypes: GrantType[];
  firstParty: boolean;
  backchannelLogoutUri: string | null;
  /** `aud` of its access tokens, or null for the server's default. */
  audience: string | null;
  /** HMAC-SHA256 of the secret under a server key: a per-request check costs one HMAC, not a slow hash. */
  secretMac: Buffer | null;
  secretHash: string | null;
  jwks: ReturnType<typeof jose.createLocalJWKSet> | null;
}

export const clientStream = (clientId: string): string => `client-${clientId}`;
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** What the log records about a client (secrets as hashes only). */
export function clientRecord(c: Client): Record<string, unknown> {
  return {
    clientId: c.clientId,
    name: c.name,
    authMethod: c.authMethod,
    redirectUris: c.redirectUris,
    postLogoutRedirectUris: c.postLogoutRedirectUris,
    scopes: c.scopes,
    grantTypes: c.grantTypes,
    firstParty: c.firstParty,
    backchannelLogoutUri: c.backchannelLogoutUri,
    audience: c.audience,
    secretHash: c.secretHash,
  };
}

/** Clients from the plugin config; authentication at the token, introspection and revocation endpoints. */
export class ClientRegistry {
  readonly byId = new Map<string, Client>();
  /**
   * Authorization headers that authenticated successfully -> client. A hit skips decoding and the
   * HMAC; a miss takes the full constant-time path. Keys are whole credentials looked up by hash, so
   * the cache offers no per-byte timing signal. Bounded; a restart (new config) starts empty.
   */
  private readonly basicCache = new Map<string, Client>();

  constructor(
    configs: ClientConfig[],
    private readonly macKey: Buffer,
    private readonly clock: Clock,
    private readonly tokenEndpoint: string,
    private readonly issuer: string,
    private readonly store: EventStore,
  ) {
    for (const c of configs) {
      const method = c.tokenEndpointAuthMethod ?? 'client_secret_basic';
      if (this.byId.has(c.clientId)) throw new Error(`oauth-server: client ${c.clientId} is configured twice`);
      if ((method === 'client_secret_basic' || method === 'client_secret_post') && !c.secret)
        throw new Error(`oauth-server: client ${c.clientId} needs a secret for ${method}`);
      if (method === 'private_key_jwt' && !c.jwks?.keys?.length)
        throw new Error(`oauth-server: client ${c.clientId} needs jwks for private_key_jwt`);
      const grantTypes = c.grantTypes ?? ['authorization_code', 'refresh_token'];
      if (method === 'none' && grantTypes.includes('client_credentials'))
        throw new Error(`oauth-server: public client ${c.clientId} cannot use client_credentials`);
      const secret = method === 'client_secret_basic' || method === 'client_secret_post' ? c.secret! : null;
      this.byId.set(c.clientId, {
        clientId: c.clientId,
        name: c.name ?? c.clientId,
        authMethod: method,
        isPublic: method === 'none',
        redirectUris: c.redirectUris ?? [],
        postLogoutRedirectUris: c.postLogoutRedirectUris ?? [],
        scopes: c.scopes ?? ['openid', 'profile', 'email', 'offline_access'],
        grantTypes,
        firstParty: c.firstParty ?? false,
        backchannelLogoutUri: c.backchannelLogoutUri ?? null,
        audience: c.audience ?? null,
        secretMac: secret ? this.mac(secret) : null,
        secretHash: secret ? sha256(secret) : null,
        jwks: method === 'private_key_jwt' ? jose.createLocalJWKSet(c.jwks as jose.JSONWebKeySet) : null,
      });
    }
  }

  get(clientId: unknown): Client | undefined {
    return typeof clientId === 'string' ? this.byId.get(clientId) : undefined;
  }

  private mac(secret: string): Buffer {
    return createHmac('sha256', this.macKey).update(secret).digest();
  }

  /**
   * Authenticates the caller (RFC 6749 §2.3, OIDC Core §9). Exactly one method per request
   * (RFC 6749 §2.3: MUST NOT use more than one); the client must use the method it registered.
   * Public clients identify themselves with `client_id` only.
   */
  async authenticate(req: FastifyRequest, body: Record<string, unknown>, allowPublic: boolean): Promise<Client> {
    const authz = req.headers.authorization;
    const basic = typeof authz === 'string' && /^basic /i.test(authz);
    const used = [basic, body.client_secret !== undefined, body.client_assertion !== undefined].filter(Boolean).length;
    if (used > 1) throw new OAuthError('invalid_request', 'use exactly one client authentication method');
    if (basic) {
      const cached = this.basicCache.get(authz!);
      if (cached && (body.client_id === undefined || body.client_id === cached.clientId)) return cached;
      const raw = Buffer.from(authz!.slice(6).trim(), 'base64').toString('utf8');
      const i = raw.indexOf(':');
      if (i < 1) throw new OAuthError('invalid_client', 'malformed Basic credentials', 401, 'Basic');
      // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
      let id: string;
      let secret: string;
      try {
        id = decodeURIComponent(raw.slice(0, i).replace(/\+/g, ' '));
        secret = decodeURIComponent(raw.slice(i + 1).replace(/\+/g, ' '));
      } catch {
        throw new OAuthError('invalid_client', 'malformed Basic credentials', 401, 'Basic');
      }
      if (body.client_id !== undefined && body.client_id !== id)
        throw new OAuthError('invalid_request', 'client_id does not match the authenticated client');
      const c = this.checkSecret(id, secret, 'client_secret_basic', 'Basic');
      if (this.basicCache.size >= 256) this.basicCache.delete(this.basicCache.keys().next().value as string);
      this.basicCache.set(authz!, c);
      return c;
    }
    if (body.client_secret !== undefined) return this.checkSecret(body.client_id, body.client_secret, 'client_secret_post');
    if (body.client_assertion !== undefined) return this.checkAssertion(body);
    // No credentials at all (a bearer token alone, as an API gateway might send to check-token):
    // the 401 names the way to authenticate, like userinfo's bare Bearer challenge (RFC 6750 §3.1,
    // RFC 9110 §15.5.2). Failed credentials keep their own answers (RFC 6749 §5.2).
    const c = this.get(body.client_id);
    if (!c) throw new OAuthError('invalid_client', 'client authentication failed', 401, 'Basic');
    if (!c.isPublic || !allowPublic) throw new OAuthError('invalid_client', 'client authentication required', 401, 'Basic');
    return c;
  }

  private checkSecret(id: unknown, secret: unknown, method: AuthMethod, challenge?: 'Basic'): Client {
    const c = this.get(id);
    const ok = c && c.secretMac && typeof secret === 'string' && secret.length <= 512 && timingSafeEqual(this.mac(secret), c.secretMac);
    // One message for unknown client and wrong secret: no client-id oracle.
    if (!ok) throw new OAuthError('invalid_client', 'client authentication failed', 401, challenge);
    if (c.authMethod !== method) throw new OAuthError('invalid_client', `client is registered for ${c.authMethod}`, 401, challenge);
    return c;
  }

  /** private_key_jwt (RFC 7523 §3, OIDC Core §9): iss = sub = client_id, aud = us, short-lived, jti once. */
  private async checkAssertion(body: Record<string, unknown>): Promise<Client> {
    if (body.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
      throw new OAuthError('invalid_client', 'unsupported client_assertion_type');
    const assertion = body.client_assertion;
    if (typeof assertion !== 'string' || assertion.length > 8192) throw new OAuthError('invalid_client', 'malformed client assertion');
    let sub: unknown;
    try {
      sub = jose.decodeJwt(assertion).sub;
    } catch {
      throw new OAuthError('invalid_client', 'malformed client assertion');
    }
    const c = this.get(sub);
    if (!c || !c.jwks || c.authMethod !== 'private_key_jwt') throw new OAuthError('invalid_client', 'client authentication failed');
    if (body.client_id !== undefined && body.client_id !== c.clientId)
      throw new OAuthError('invalid_client', 'client_id does not match the assertion');
    let payload: jose.JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(assertion, c.jwks, {
        issuer: c.clientId,
        subject: c.clientId,
        audience: [this.tokenEndpoint, this.issuer],
        algorithms: ['ES256', 'RS256', 'PS256', 'EdDSA'],
        currentDate: this.clock.now(),
        maxTokenAge: '5m',
        clockTolerance: 30, // client clocks drift; the jti claim keeps replay out
        requiredClaims: ['exp', 'jti', 'iat'],
      }));
    } catch {
      throw new OAuthError('invalid_client', 'client assertion is invalid');
    }
    // Single use across nodes (RFC 7523 §3 item 7): the jti claims a stream.
    const jtiHash = sha256(`${c.clientId}|${String(payload.jti)}`).slice(0, 40);
    if (
      !(await useOnce(
        this.store,
        `client-assertion-${jtiHash}`,
        { type: 'ClientAssertionUsed', data: { clientId: c.clientId, jtiHash } },
        { actor: `client:${c.clientId}` },
      ))
    ) {
      throw new OAuthError('invalid_client', 'client assertion was already used');
    }
    return c;
  }
}
