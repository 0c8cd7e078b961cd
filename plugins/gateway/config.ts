import type { JsonSchema } from '../../plugin/index.js';

/** Who may enter an app. All given conditions must hold. */
export interface AccessRule {
  /** `user` (any logged-in user, default) or `admin`. */
  require?: 'user' | 'admin';
  /** At least one of these roles. */
  roles?: string[];
  /** The user's tenant must be one of these. */
  tenants?: string[];
}

/** Seed 002's legacy fallback: users matching `when` go to `upstream` instead. */
export interface AlternateUpstream {
  when: {
    attribute: 'roles' | 'tenant' | 'email' | 'userId' | 'admin';
    equals?: string | boolean;
    includes?: string;
    notIncludes?: string;
  };
  upstream: string;
}

export interface GatewayRoute {
  id: string;
  name?: string;
  /** Path prefix on the broker (`/apps/wiki`); the prefix is removed before forwarding unless `rewritePrefix` says otherwise. */
  pathPrefix: string;
  /** Only requests to this host name, any port (e.g. `wiki.example.com`): the app gets an origin of its own. */
  host?: string;
  upstream: string;
  rewritePrefix?: string;
  access?: AccessRule;
  /** `session` → browser login and back; `bearer` → 401 with WWW-Authenticate; `both` (default). */
  auth?: 'session' | 'bearer' | 'both';
  alternates?: AlternateUpstream[];
  websocket?: boolean;
  timeoutMs?: number;
  /** Shown on the /apps portal (default true). */
  listed?: boolean;
  /** Client credentials the app needs and may have (`authorization`, `proxy-authorization`, `remote-user`, `x-remote-user`); stripped otherwise. */
  forwardHeaders?: string[];
}

export interface UpstreamIdpConfig {
  /** The IdP's issuer (the `iss` in sub@iss). */
  issuer: string;
  /** Where opaque/foreign tokens are checked (seed 002). */
  userinfoUrl: string;
  /** Identity provider id whose provisioning settings apply (an `oidc-*` id), optional. */
  idp?: string;
  cache?: { ttlSeconds?: number; negativeTtlSeconds?: number; maxEntries?: number };
  timeoutMs?: number;
}

export interface GatewayConfig {
  routes: GatewayRoute[];
  internalJwt: { header: string; ttlSeconds: number };
  headers: { userId: string; email: string; roles: string; tenant: string };
  /** Extra header names always stripped from client requests (besides the identity headers). */
  stripHeaders: string[];
  upstreamIdp?: UpstreamIdpConfig;
  /** Apps portal path. */
  portalPath: string;
}

const str = { type: 'string', minLength: 1 };

export const gatewayConfigSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['routes'],
  properties: {
    routes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'pathPrefix', 'upstream'],
        properties: {
          id: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
          name: str,
          pathPrefix: { type: 'string', pattern: '^/[^?#]*$' },
          host: { type: 'string', pattern: '^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$' },
          upstream: { type: 'string', pattern: '^https?://' },
          rewritePrefix: { type: 'string' },
          access: {
            type: 'object',
            additionalProperties: false,
            properties: {
              require: { enum: ['user', 'admin'] },
              roles: { type: 'array', items: str },
              tenants: { type: 'array', items: str },
            },
          },
          auth: { enum: ['session', 'bearer', 'both'] },
          alternates: {
            type: 'array',
            items: {
              type: 'object',
              required: ['when', 'upstream'],
              additionalProperties: false,
              properties: {
                when: {
                  type: 'object',
                  required: ['attribute'],
                  additionalProperties: false,
                  properties: {
                    attribute: { enum: ['roles', 'tenant', 'email', 'userId', 'admin'] },
                    equals: { type: ['string', 'boolean'] },
                    includes: str,
                    notIncludes: str,
                  },
                },
                upstream: { type: 'string', pattern: '^https?://' },
              },
            },
          },
          websocket: { type: 'boolean' },
          timeoutMs: { type: 'integer', minimum: 100 },
          listed: { type: 'boolean' },
          forwardHeaders: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9-]+$' } },
        },
      },
    },
    internalJwt: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        header: { type: 'string', pattern: '^[a-z0-9-]+$', default: 'x-access-token' },
        ttlSeconds: { type: 'integer', minimum: 5, maximum: 3600, default: 60 },
      },
    },
    headers: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        userId: { type: 'string', default: 'x-user-id' },
        email: { type: 'string', default: 'x-user-email' },
        roles: { type: 'string', default: 'x-user-roles' },
        tenant: { type: 'string', default: 'x-tenant-id' },
      },
    },
    stripHeaders: { type: 'array', items: str, default: [] },
    upstreamIdp: {
      type: 'object',
      additionalProperties: false,
      required: ['issuer', 'userinfoUrl'],
      properties: {
        issuer: str,
        userinfoUrl: { type: 'string', pattern: '^https?://' },
        idp: str,
        timeoutMs: { type: 'integer', minimum: 100, default: 3000 },
        cache: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            ttlSeconds: { type: 'integer', minimum: 0, default: 60 },
            negativeTtlSeconds: { type: 'integer', minimum: 0, default: 10 },
            maxEntries: { type: 'integer', minimum: 1, default: 10000 },
          },
        },
      },
    },
    portalPath: { type: 'string', pattern: '^/', default: '/apps' },
  },
};
