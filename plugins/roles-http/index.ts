import { request } from 'undici';
import { DomainError, type Enrichment, type EnrichmentInput, type IdentityEnricher, type Plugin } from '../../plugin/index.js';

export interface RolesHttpConfig {
  /** Called with GET and the query parameters userId, subject, issuer, tenant. */
  url: string;
  /** Extra request headers (an API key: `${ENV}` interpolation keeps it out of the file). */
  headers: Record<string, string>;
  timeoutMs: number;
  /** Dot path to the roles array in the JSON answer (`roles`, `data.user.roles`). */
  rolesPath: string;
  /** Optional dot path to a tenant in the answer. */
  tenantPath?: string;
  /** `deny`: refuse the login when the call fails. `proceed`: log in without roles. */
  onFailure: 'deny' | 'proceed';
  /** Only for identities from these issuers (default: all). */
  issuers?: string[];
}

const MAX_BODY = 256 * 1024;

export function pick(value: unknown, path: string): unknown {
  let v = value;
  for (const part of path.split('.').filter(Boolean)) {
    if (v === null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

class RolesUnavailable extends Error {}

/** Fetches roles from an external API after login (seed 004: roles from MCCUP by the user id). */
export class RolesHttpEnricher implements IdentityEnricher {
  readonly name = 'roles-http';
  constructor(
    private readonly cfg: RolesHttpConfig,
    private readonly log: { warn(obj: object, msg: string): void },
  ) {}

  async fetchRoles(input: EnrichmentInput): Promise<Enrichment> {
    const url = new URL(this.cfg.url);
    url.searchParams.set('userId', input.userId);
    url.searchParams.set('subject', input.identity.subject);
    url.searchParams.set('issuer', input.identity.issuer);
    const tenant = input.identity.tenant ?? input.user.tenant ?? null;
    if (tenant) url.searchParams.set('tenant', tenant);
    const res = await request(url, {
      method: 'GET',
      headers: { accept: 'application/json', ...this.cfg.headers },
      headersTimeout: this.cfg.timeoutMs,
      bodyTimeout: this.cfg.timeoutMs,
      signal: AbortSignal.timeout(this.cfg.timeoutMs),
    });
    let text = '';
    for await (const chunk of res.body) {
      text += chunk;
      if (text.length > MAX_BODY) throw new RolesUnavailable('answer too large');
    }
    if (res.statusCode !== 200) throw new RolesUnavailable(`HTTP ${res.statusCode}`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new RolesUnavailable('answer is not JSON');
    }
    const roles = pick(json, this.cfg.rolesPath);
    if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string'))
      throw new RolesUnavailable(`no string array at ${this.cfg.rolesPath}`);
    const out: Enrichment = { roles: [...new Set(roles as string[])] };
    if (this.cfg.tenantPath) {
      const t = pick(json, this.cfg.tenantPath);
      if (typeof t === 'string' || t === null) out.tenant = t;
    }
    return out;
  }

  async enrich(input: EnrichmentInput): Promise<Enrichment> {
    if (this.cfg.issuers && !this.cfg.issuers.includes(input.identity.issuer)) return {};
    try {
      return await this.fetchRoles(input);
    } catch (err) {
      // The URL may carry a key in its query: log the host only.
      this.log.warn({ host: new URL(this.cfg.url).host, err: err instanceof Error ? err.message : String(err) }, 'roles lookup failed');
      if (this.cfg.onFailure === 'proceed') return { roles: [] };
      throw new DomainError('forbidden', 'Your roles could not be determined, so you cannot log in right now. Try again later.');
    }
  }
}

const plugin: Plugin<RolesHttpConfig> = {
  name: 'roles-http',
  configSchema: {
    type: 'object',
    properties: {
      url: { type: 'string', pattern: '^https?://' },
      headers: { type: 'object', additionalProperties: { type: 'string' }, default: {} },
      timeoutMs: { type: 'integer', minimum: 50, maximum: 60000, default: 3000 },
      rolesPath: { type: 'string', minLength: 1, default: 'roles' },
      tenantPath: { type: 'string' },
      onFailure: { enum: ['deny', 'proceed'], default: 'deny' },
      issuers: { type: 'array', items: { type: 'string' } },
    },
    required: ['url'],
    additionalProperties: false,
  },
  register(ctx) {
    ctx.add.enricher(new RolesHttpEnricher(ctx.config, ctx.logger as unknown as { warn(obj: object, msg: string): void }));
  },
};

export default plugin;
