import type { EventStore, Logger, SitesView } from '../../core/index.js';
import type { SiteConfig } from '../../config/types.js';

/**
 * Sites come from config (with their secrets, which stay in memory) and are recorded in the log
 * (without secrets) whenever the config differs from what the log says: SiteRegistered for a new
 * site, SiteUpdated for a changed one, SiteRemoved for one no longer configured.
 */
export class SiteRegistry {
  private readonly byId: Map<string, SiteConfig>;
  /**
   * `sitesRevision` of this node's config (0 when unset). In a rolling deploy nodes run different
   * configs: the log remembers the highest revision applied, and a node whose revision is lower
   * never changes the recorded sites (see syncSites and README "Sites in a rolling deploy").
   */
  constructor(
    readonly sites: SiteConfig[],
    readonly revision = 0,
  ) {
    this.byId = new Map(sites.map((s) => [s.id, s]));
  }
  get(siteId: string): SiteConfig | undefined {
    return this.byId.get(siteId);
  }
  all(): SiteConfig[] {
    return this.sites;
  }
}

function recorded(s: SiteConfig): Record<string, unknown> {
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

export type SitesAgreement = 'current' | 'behind' | 'conflict';

export interface SitesConfigState {
  /** This node's `sitesRevision` and the highest one the log has applied. */
  revision: number;
  logRevision: number;
  /**
   * current: this config is what the log records; behind: the log applied a newer revision, this
   * node's config is older (it changes nothing and does not send ban webhooks); conflict: same
   * revision, different sites (two configs claim one revision: fix the config, nothing flips).
   */
  agreement: SitesAgreement;
  /** Sites the log has active (with a webhook) that this node's config does not know. */
  unknownHere: string[];
}

function differences(view: SitesView, sites: SiteConfig[]): { changed: SiteConfig[]; removed: string[] } {
  const changed = sites.filter((s) => {
    const have = view.byId.get(s.id);
    if (!have || have.removed) return true;
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
    return !same(current, recorded(s));
  });
  const configured = new Set(sites.map((s) => s.id));
  return {
    changed,
    removed: view
      .active()
      .filter((v) => !configured.has(v.siteId))
      .map((v) => v.siteId),
  };
}

/** How this node's sites config stands against the log's registry (read at scrape / probe time). */
export function sitesConfigState(view: SitesView, registry: SiteRegistry): SitesConfigState {
  const logRevision = view.latestRevision();
  const diff = differences(view, registry.sites);
  const agrees = !diff.changed.length && !diff.removed.length;
  const agreement: SitesAgreement =
    registry.revision < logRevision ? 'behind' : agrees || registry.revision > logRevision ? 'current' : 'conflict';
  const unknownHere = view
    .active()
    .filter((v) => v.webhookUrl && !registry.get(v.siteId)?.webhook)
    .map((v) => v.siteId);
  return { revision: registry.revision, logRevision, agreement, unknownHere };
}

/**
 * Appends the events that bring the log's site registry in line with this node's config, under
 * the rolling-deploy rule: a config whose `sitesRevision` is lower than the highest the log has
 * applied changes nothing (an old node restarted must not remove a site a newer node added), and
 * one with the same revision but other sites changes nothing either (no flip-flop between two
 * nodes); both are reported for the caller to warn about. With revisions never set (0 everywhere)
 * the config simply wins, as on a single node. Returns the last position written (or 0).
 */
export async function syncSites(
  store: EventStore,
  view: SitesView,
  registry: SiteRegistry,
): Promise<{ position: number; state: SitesConfigState }> {
  const before = sitesConfigState(view, registry);
  const mayWrite = registry.revision > before.logRevision || (registry.revision === 0 && before.logRevision === 0);
  let position = 0;
  if (mayWrite) {
    const meta = { actor: 'config' };
    const configRevision = registry.revision;
    const { changed, removed } = differences(view, registry.sites);
    for (const s of changed) {
      const have = view.byId.get(s.id);
      const type = !have || have.removed ? 'SiteRegistered' : 'SiteUpdated';
      position = (await store.append(`site-${s.id}`, [{ type, data: { ...recorded(s), configRevision } as never, metadata: meta }]))
        .position;
    }
    for (const siteId of removed)
      position = (await store.append(`site-${siteId}`, [{ type: 'SiteRemoved', data: { siteId, configRevision }, metadata: meta }]))
        .position;
  }
  return {
    position,
    state: mayWrite ? { ...before, agreement: 'current', logRevision: Math.max(before.logRevision, registry.revision) } : before,
  };
}

/** Says loudly, once per start, that this node's sites config and the log's disagree, and what that means. */
export function warnSitesDisagreement(logger: Logger, st: SitesConfigState): void {
  if (st.agreement === 'behind')
    logger.warn(
      st,
      `sites config is OLDER than the log (sitesRevision ${st.revision} < ${st.logRevision}): this node changes no site and sends no ban webhook until it runs the newer config`,
    );
  else if (st.agreement === 'conflict')
    logger.warn(
      st,
      `sites config DIFFERS from the log at the same sitesRevision ${st.revision}: two configs claim one revision; nothing was changed; raise sitesRevision on the config that should win`,
    );
}
