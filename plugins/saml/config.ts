import type { JsonSchema, ProvisioningSettings } from '../../plugin/index.js';

/** Which SAML attribute (by Name) carries each identity field. Absent: not mapped. */
export interface SamlAttributeMap {
  /** When set, the identity subject is this attribute's value instead of the NameID. */
  userId?: string;
  email?: string;
  name?: string;
  tenant?: string;
  groups?: string;
}

export interface SamlIdpConfig {
  /** Short name: the provider id is `saml-<name>`, its routes live under `/saml/<name>/`. */
  name: string;
  displayName?: string;
  /** The IdP's metadata: a file path, inline XML, or a URL fetched at start. Exactly one. */
  metadata: { file?: string; xml?: string; url?: string };
  /** Binding used to send the AuthnRequest (saml-bindings §3.4 redirect, §3.5 POST). */
  requestBinding?: 'redirect' | 'post';
  attributes?: SamlAttributeMap;
  /** Emails from this IdP are verified (needed for provisioning.linkByEmail). */
  emailVerified?: boolean;
  provisioning?: ProvisioningSettings;
  /** Unsolicited responses (saml-profiles §4.1.5) are refused unless enabled here. */
  idpInitiated?: { enabled: boolean; relayStates?: string[] };
  /** Sign AuthnRequests and LogoutRequests with the SP key (needs sp.signingKey). */
  signRequests?: boolean;
}

export interface SamlPluginConfig {
  sp: {
    /** SP entity id; default `<baseUrl>/saml/<idp>/metadata` (one per IdP). */
    entityId?: string;
    /** PEM text or a file path. */
    signingKey?: string;
    signingCert?: string;
    encryptionKey?: string;
    encryptionCert?: string;
    clockSkewSeconds: number;
    /** How long an AuthnRequest may stay unanswered (the lifetime of the browser's login binding cookie). */
    requestTtlSeconds: number;
    /** Largest accepted SAMLResponse (decoded XML) in bytes. */
    maxMessageBytes: number;
  };
  idps: SamlIdpConfig[];
  /** Per node: at most this many refused messages per second are recorded as `LoginFailed` (the rest are only counted in the log). */
  refusalEventsPerSecond: number;
}

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
export { provisioningSchema };

export const samlConfigSchema: JsonSchema = {
  type: 'object',
  properties: {
    sp: {
      type: 'object',
      properties: {
        entityId: { type: 'string', minLength: 1 },
        signingKey: { type: 'string' },
        signingCert: { type: 'string' },
        encryptionKey: { type: 'string' },
        encryptionCert: { type: 'string' },
        clockSkewSeconds: { type: 'integer', minimum: 0, maximum: 600, default: 120 },
        requestTtlSeconds: { type: 'integer', minimum: 30, maximum: 3600, default: 600 },
        maxMessageBytes: { type: 'integer', minimum: 4096, maximum: 1048576, default: 65536 },
      },
      additionalProperties: false,
      default: {},
    },
    idps: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,40}$' },
          displayName: { type: 'string' },
          metadata: {
            type: 'object',
            properties: { file: { type: 'string' }, xml: { type: 'string' }, url: { type: 'string', pattern: '^https?://' } },
            minProperties: 1,
            maxProperties: 1,
            additionalProperties: false,
          },
          requestBinding: { enum: ['redirect', 'post'], default: 'redirect' },
          attributes: {
            type: 'object',
            properties: {
              userId: { type: 'string' },
              email: { type: 'string' },
              name: { type: 'string' },
              tenant: { type: 'string' },
              groups: { type: 'string' },
            },
            additionalProperties: false,
            default: {},
          },
          emailVerified: { type: 'boolean', default: false },
          provisioning: provisioningSchema,
          idpInitiated: {
            type: 'object',
            properties: { enabled: { type: 'boolean' }, relayStates: { type: 'array', items: { type: 'string' } } },
            required: ['enabled'],
            additionalProperties: false,
          },
          signRequests: { type: 'boolean', default: false },
        },
        required: ['name', 'metadata'],
        additionalProperties: false,
      },
      default: [],
    },
    refusalEventsPerSecond: { type: 'integer', minimum: 1, maximum: 10000, default: 50 },
  },
  additionalProperties: false,
};
