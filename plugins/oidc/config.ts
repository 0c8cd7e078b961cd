import type { JsonSchema, ProvisioningSettings } from '../../plugin/index.js';

// Same shape as core's ProvisioningSettings (kept here: plugins never import each other).
const provisioningSchema: JsonSchema = {
  type: 'object',
  properties: {
    policy: { type: 'string', minLength: 1 },
    condition: {
      type: 'object',
      properties: {
        group: { type: 'string' },
        claim: { type: 'string' },
        equals: { type: ['string', 'number', 'boolean'] },
        includes: { type: 'string' },
      },
      additionalProperties: false,
    },
    linkByEmail: { type: 'boolean' },
  },
  required: ['policy'],
  additionalProperties: false,
};

/** Which claim carries each identity field. */
export interface OidcClaimMap {
  subject: string;
  email: string;
  emailVerified: string;
  name: string;
  tenant?: string;
  groups?: string;
}

export interface OidcIdpConfig {
  /** Short name: the provider id is `oidc-<name>`, its routes live under `/oidc/<name>/`. */
  name: string;
  displayName?: string;
  /** Issuer identifier; its `/.well-known/openid-configuration` is fetched (OIDC Discovery §4). */
  issuer: string;
  clientId: string;
  clientSecret?: string;
  scopes: string[];
  claims: OidcClaimMap;
  /** Also fetch the UserInfo endpoint and merge its claims (OIDC Core §5.3). */
  userinfo: boolean;
  provisioning?: ProvisioningSettings;
  /** Allow an http:// issuer (development and tests on 127.0.0.1 only). */
  allowInsecureIssuer?: boolean;
}

export interface OidcPluginConfig {
  /** How long a login attempt (the encrypted state cookie) stays valid. */
  attemptTtlSeconds: number;
  idps: OidcIdpConfig[];
}

export const oidcConfigSchema: JsonSchema = {
  type: 'object',
  properties: {
    attemptTtlSeconds: { type: 'integer', minimum: 30, maximum: 3600, default: 600 },
    idps: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,40}$' },
          displayName: { type: 'string' },
          issuer: { type: 'string', pattern: '^https?://' },
          clientId: { type: 'string', minLength: 1 },
          clientSecret: { type: 'string' },
          scopes: { type: 'array', items: { type: 'string' }, default: ['openid', 'email', 'profile'] },
          claims: {
            type: 'object',
            properties: {
              subject: { type: 'string', default: 'sub' },
              email: { type: 'string', default: 'email' },
              emailVerified: { type: 'string', default: 'email_verified' },
              name: { type: 'string', default: 'name' },
              tenant: { type: 'string' },
              groups: { type: 'string' },
            },
            additionalProperties: false,
            default: {},
          },
          userinfo: { type: 'boolean', default: false },
          provisioning: provisioningSchema,
          allowInsecureIssuer: { type: 'boolean', default: false },
        },
        required: ['name', 'issuer', 'clientId'],
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
};
