import { createHash } from 'node:crypto';
import { WrongExpectedRevision, type ClusterNode, type EventStore, type Logger, type Projection, type RecordedEvent, type SitesAgreement, type SitesView } from '../../core/index.js';
import type { SiteConfig } from '../../config/types.js';
import { recordedSite, syncSites } from './site-registry.js';

/**
 * Sites in a rolling deploy (issue 17, item 3). Each node reads its sites from its own config file,
 * so during a deploy two nodes can hold two lists. Without a rule, the last node to start wins and
 * an old node restarted after a new one removes the new one's sites (bans stop reaching them).
 *
 * The rule: the list carries a revision (`sitesRevision`, default 0), and every reconciliation is
 * recorded in the `sites-config` stream as `SitesConfigApplied { revision, hash }`. A node changes
 * the log's sites only when its revision is newer than the last one applied, or equal with the
 * same content (then it repairs a half-done reconciliation). An older revision, or an equal one with
 * other content, changes nothing: the node says so loudly (log at error, /metrics, /readyz) and
 * keeps serving. Equal revisions never flip-flop. On a store only one process can open (SQLite,
 * memory) nobody can disagree, so an equal revision with other content is applied (an operator who
 * edits the file and restarts need not bump it); an older one is still refused.
 */
export const SITES_CONFIG_STREAM = 'sites-config';

type Applied = { revision: number; hash: string; nodeId: string; siteIds: string[] };

/** SHA-256 over the sites as the log records them (no secrets), in id order: the list's content, not its layout. */
export function sitesHash(sites: SiteConfig[]): string {
  const recorded = [...sites].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(recordedSite);
  return createHash('sha256').update(JSON.stringify(recorded)).digest('hex');
}

export type SitesVerdict = 'apply' | 'current' | 'behind' | 'conflict';

/** What a node with `mine` does, given the last reconciliation in the log (null: none yet). */
export function judgeSites(mine: { revision: number; hash: string }, latest: { revision: number; hash: string } | null, singleWriter: boolean): SitesVerdict {
  if (!latest || mine.revision > latest.revision) return 'apply';
  if (mine.revision < latest.revision) return 'behind';
  if (mine.hash === latest.hash) return 'current';
  return singleWriter ? 'apply' : 'conflict';
}

/**
 * Watches the log for reconciliations by other nodes while this one runs (a memory projection that
 * starts live): a newer revision appearing makes this node `behind`, and it says so once.
 */
export class SitesConfigWatch implements Projection {
  readonly name = 'sites-config-watch';
  readonly replay = 'live' as const;
  checkpoint = 0;

  constructor(
    private readonly cluster: ClusterNode,
    private readonly mine: { revision: number; hash: string },
    private readonly logger: Logger,
  ) {}

  apply(e: RecordedEvent): void {
    if (e.type !== 'SitesConfigApplied') return;
    this.observe(e.data as Applied);
  }

  reset(): void {}

  /** Records the log's latest reconciliation and how this node's config compares; warns on a change into disagreement. */
  observe(latest: Applied | null, singleWriter = false): SitesAgreement {
    const verdict = judgeSites(this.mine, latest, singleWriter);
    const state: SitesAgreement['state'] = verdict === 'behind' || verdict === 'conflict' ? verdict : 'in_line';
    const was = this.cluster.sites?.state;
    const next: SitesAgreement = { revision: this.mine.revision, hash: this.mine.hash, logRevision: latest?.revision ?? null, logHash: latest?.hash ?? null, logNodeId: latest?.nodeId ?? null, state };
    this.cluster.sites = next;
    if (state !== 'in_line' && state !== was) {
      const fields = { nodeId: this.cluster.nodeId, sitesRevision: this.mine.revision, logRevision: next.logRevision, appliedBy: next.logNodeId, logSites: latest?.siteIds };
      this.logger.error(
        fields,
        state === 'behind'
          ? 'SITES CONFIG IS OLDER THAN THE CLUSTER\'S: this node\'s sitesRevision is below the last one applied, so it changes no site; deploy the newer config here (bans to sites it lacks are sent by nodes that have them)'
          : 'SITES CONFIG DISAGREES AT THE SAME REVISION: another node applied different sites with the same sitesRevision; this node changes nothing. Bump sitesRevision on the config that should win',
      );
    }
    return next;
  }
}

export interface ReconcileDeps {
  store: EventStore;
  view: SitesView;
  sites: SiteConfig[];
  revision: number;
  watch: SitesConfigWatch;
  cluster: ClusterNode;
  /** Only one process can open the store (SQLite, memory). */
  singleWriter: boolean;
}

/** Brings the log's sites in line with this node's config if the rule allows; returns the last position written (or 0). */
export async function reconcileSites(d: ReconcileDeps): Promise<number> {
  const hash = sitesHash(d.sites);
  for (let attempt = 0; ; attempt++) {
    const stream = await d.store.readStream(SITES_CONFIG_STREAM);
    const last = stream.at(-1);
    const latest = last ? (last.data as Applied) : null;
    const verdict = judgeSites({ revision: d.revision, hash }, latest, d.singleWriter);
    if (verdict === 'behind' || verdict === 'conflict') {
      d.watch.observe(latest, d.singleWriter);
      return 0;
    }
    let position = 0;
    if (verdict === 'apply') {
      // Claimed before the sites are written, with the stream's revision: of two nodes reconciling
      // at once, the second re-reads and judges again instead of both writing.
      const data: Applied = { revision: d.revision, hash, nodeId: d.cluster.nodeId, siteIds: d.sites.map((s) => s.id) };
      try {
        position = (await d.store.append(SITES_CONFIG_STREAM, [{ type: 'SitesConfigApplied', data, metadata: { actor: 'config' } }], { expectedRevision: last ? last.revision : 'no_stream' })).position;
      } catch (err) {
        if (err instanceof WrongExpectedRevision && attempt < 5) continue;
        throw err;
      }
      d.watch.observe(data, d.singleWriter);
    } else {
      d.watch.observe(latest, d.singleWriter);
    }
    return Math.max(position, await syncSites(d.store, d.view, d.sites));
  }
}
