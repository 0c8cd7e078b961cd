import type { BrokerConfig, SiteConfig, StoreConfig } from './types.js';

/**
 * JSON Schema of the broker's own configuration (config/types.ts). Plugin sections
 * (`plugins[i].config`) are validated by each plugin's `configSchema` when the kernel loads it.
 * `additionalProperties: false` everywhere: a misspelt key is an error, not a silent default.
 */
const storeSchema = {
  type: 'object',
  properties: {
    kind: { type: 'string', enum: ['sqlite', 'memory', 'postgres', 'eventstoredb'] },
    path: { type: 'string', minLength: 1, nullable: true },
    synchronous: { type: 'string', enum: ['FULL', 'NORMAL'], nullable: true },
    url: { type: 'string', minLength: 1, nullable: true },
    schema: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', nullable: true },
    poolMax: { type: 'integer', minimum: 1, maximum: 1000, nullable: true },
  },
  required: ['kind'],
  additionalProperties: false,
  // A remote store without its address cannot start; say so at load time, not at connect time.
  if: { properties: { kind: { enum: ['postgres', 'eventstoredb'] } } },
  then: { required: ['url'] },
};

const siteSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' },
    name: { type: 'string', minLength: 1 },
    returnUrls: { type: 'array', minItems: 1, items: { type: 'string', format: 'uri' } },
    handoff: {
      type: 'object',
      nullable: true,
      properties: {
        version: { type: 'string', enum: ['v1', 'v2'], nullable: true },
        keys: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            properties: { kid: { type: 'string', minLength: 1 }, secret: { type: 'string', minLength: 16 } },
            required: ['kid', 'secret'],
            additionalProperties: false,
          },
        },
        fields: { type: 'array', items: { type: 'string' }, nullable: true },
        ttlSeconds: { type: 'integer', minimum: 1, maximum: 3600, nullable: true },
      },
      required: ['keys'],
      additionalProperties: false,
    },
    webhook: {
      type: 'object',
      nullable: true,
      properties: {
        url: { type: 'string', format: 'uri' },
        secret: { type: 'string', pattern: '^whsec_', nullable: true },
        format: { type: 'string', enum: ['standard-webhooks', 'secevent'], nullable: true },
        audience: { type: 'string', nullable: true },
      },
      required: ['url'],
      additionalProperties: false,
    },
  },
  required: ['id', 'name', 'returnUrls'],
  additionalProperties: false,
};

/** Mirrors `BrokerConfig` in config/types.ts; a test checks the defaults and every example against it. */
export const brokerConfigSchema = {
  type: 'object',
  properties: {
    server: {
      type: 'object',
      properties: {
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        baseUrl: { type: 'string', format: 'uri' },
        trustProxy: { type: 'boolean' },
        insecureCookies: { type: 'boolean' },
      },
      required: ['host', 'port', 'baseUrl', 'trustProxy', 'insecureCookies'],
      additionalProperties: false,
    },
    dataDir: { type: 'string', minLength: 1 },
    store: storeSchema,
    secrets: {
      type: 'object',
      properties: { masterKey: { type: 'string', minLength: 32, nullable: true } },
      additionalProperties: false,
    },
    privacy: {
      type: 'object',
      properties: {
        networkDataDays: { type: 'integer', minimum: 1, maximum: 3650 },
        expireNetworkDataInLog: { type: 'boolean' },
      },
      additionalProperties: false,
    },
    readModels: {
      type: 'object',
      properties: {
        path: { type: 'string', minLength: 1 },
        cacheMiB: { type: 'integer', minimum: 1, maximum: 65536 },
        sessionRetentionSeconds: { type: 'integer', minimum: 0 },
        readyMaxLag: { type: 'integer', minimum: 0 },
      },
      additionalProperties: false,
    },
    session: {
      type: 'object',
      properties: {
        absoluteSeconds: { type: 'integer', minimum: 60 },
        idleSeconds: { type: 'integer', minimum: 60 },
      },
      required: ['absoluteSeconds', 'idleSeconds'],
      additionalProperties: false,
    },
    mail: {
      type: 'object',
      properties: { url: { type: 'string', pattern: '^smtps?://' }, from: { type: 'string', minLength: 3, maxLength: 320 } },
      required: ['url', 'from'],
      additionalProperties: false,
    },
    cluster: {
      type: 'object',
      properties: {
        nodeId: { type: 'string', minLength: 1, maxLength: 200 },
      },
      additionalProperties: false,
    },
    signing: {
      type: 'object',
      properties: {
        alg: { type: 'string', enum: ['ES256', 'RS256'] },
        rotateAfterSeconds: { type: 'integer', minimum: 3600 },
        overlapSeconds: { type: 'integer', minimum: 0 },
      },
      additionalProperties: false,
    },
    transparency: {
      type: 'object',
      properties: {
        // The C2SP checkpoint origin and signed-note key name: no spaces, no '+'.
        origin: { type: 'string', pattern: '^[^\\s+]{1,200}$' },
        keyFile: { type: 'string', minLength: 1 },
        everyEvents: { type: 'integer', minimum: 1 },
        everySeconds: { type: 'integer', minimum: 1 },
        witnesses: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              name: { type: 'string', minLength: 1, maxLength: 200 },
              url: { type: 'string', format: 'uri', pattern: '^https?://' },
            },
            required: ['name', 'url'],
            additionalProperties: false,
          },
        },
      },
      additionalProperties: false,
    },
    log: {
      type: 'object',
      properties: { level: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] } },
      required: ['level'],
      additionalProperties: false,
    },
    admin: {
      type: 'object',
      properties: {
        apiTokens: {
          type: 'array',
          items: {
            type: 'object',
            // Only a hash of each token is configured: the token itself never sits in a file.
            properties: { name: { type: 'string', minLength: 1 }, tokenHash: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' } },
            required: ['name', 'tokenHash'],
            additionalProperties: false,
          },
        },
      },
      required: ['apiTokens'],
      additionalProperties: false,
    },
    sites: { type: 'array', items: siteSchema },
    sitesRevision: { type: 'integer', minimum: 0 },
    plugins: {
      type: 'array',
      items: {
        type: 'object',
        properties: { name: { type: 'string', minLength: 1 }, config: {} },
        required: ['name'],
        additionalProperties: false,
      },
    },
  },
  required: ['server', 'dataDir', 'store', 'secrets', 'session', 'log', 'admin', 'sites', 'plugins'],
  additionalProperties: false,
};

// Compile-time guard: a key added to BrokerConfig (config/types.ts) without a schema entry here
// fails the type check, instead of being refused at load time as "not a known setting".
type Missing<T, S> = Exclude<keyof T, keyof S>;
const _everyTopLevelKey: Record<Missing<BrokerConfig, typeof brokerConfigSchema.properties>, never> = {};
const _everyServerKey: Record<Missing<BrokerConfig['server'], typeof brokerConfigSchema.properties.server.properties>, never> = {};
const _everyStoreKey: Record<Missing<StoreConfig, typeof storeSchema.properties>, never> = {};
const _everySiteKey: Record<Missing<SiteConfig, typeof siteSchema.properties>, never> = {};
void [_everyTopLevelKey, _everyServerKey, _everyStoreKey, _everySiteKey];
