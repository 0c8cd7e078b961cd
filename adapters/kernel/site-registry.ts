import type { EventStore, SitesView } from '../../core/index.js';
import type { SiteConfig } from '../../config/types.js';

/**
 * Sites come from config (with their secrets, which stay in memory) and are recorded in the log
 * (without secrets) whenever the config differs from what the log says: SiteRegistered for a new
 * site, SiteUpdated for a changed one, SiteRemoved for one no longer configured.
 */
export class SiteRegistry {
  private readonly byId: Map<string, SiteConfig>;
  constructor(readonly sites: SiteConfig[]) {
    this.byId = new Map(sites.map((s) => [s.id, s]));
  }
  get(siteId: string): SiteConfig | undefined {
    return this.byId.get(siteId);
  }
  all(): SiteConfig[] {
    return this.sites;
  }
}

/** A site as the log records it: everything but secrets (key ids, not keys). */
export function recordedSite(s: SiteConfig): Record<string, unknown> {
  return {
    siteId: s.id,
    name: s.name,
    returnUrls: s.returnUrls,
    webhookUrl: s.webhook?.url ?? null,
    fields: s.handoff?.fields ?? [],
    keyIds: s.handoff?.keys.map((k) => k.kid) ?? [],
    handoffVersion: s.handoff ? (s.handoff.version ?? 'v2') : null,
    webhookFormat: s.webhook ? (s.webhook.format ?? 'standard-webhooks') : null,
  };
}

const same = (a: Record<string, unknown>, b: Record<string, unknown>): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Appends the events that bring the log's site registry in line with config. Returns the last position written (or 0). */
export async function syncSites(store: EventStore, view: SitesView, sites: SiteConfig[]): Promise<number> {
  let position = 0;
  const meta = { actor: 'config' };
  for (const s of sites) {
    const want = recordedSite(s);
    const have = view.byId.get(s.id);
    if (!have || have.removed) {
      position = (await store.append(`site-${s.id}`, [{ type: 'SiteRegistered', data: want as never, metadata: meta }])).position;
    } else {
      const current = {
        siteId: have.siteId,
        name: have.name,
        returnUrls: have.returnUrls,
        webhookUrl: have.webhookUrl,
        fields: have.fields,
        keyIds: have.keyIds,
        handoffVersion: have.handoffVersion,
        webhookFormat: have.webhookFormat,
      };
      if (!same(current, want)) position = (await store.append(`site-${s.id}`, [{ type: 'SiteUpdated', data: want as never, metadata: meta }])).position;
    }
  }
  const configured = new Set(sites.map((s) => s.id));
  for (const v of view.active()) {
    if (!configured.has(v.siteId)) position = (await store.append(`site-${v.siteId}`, [{ type: 'SiteRemoved', data: { siteId: v.siteId }, metadata: meta }])).position;
  }
  return position;
}
