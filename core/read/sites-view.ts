import type { RecordedEvent, KnownEvent } from '../events/envelope.js';
import type { ReadDatabase, ReadStatement } from '../ports/read-database.js';
import type { PersistedProjection } from './projection.js';

export interface SiteView {
  siteId: string;
  name: string;
  returnUrls: string[];
  webhookUrl: string | null;
  fields: string[];
  keyIds: string[];
  /** When the log first recorded each key id of `keyIds` (a key's age, for rotation). */
  keyAddedAt?: Record<string, string>;
  handoffVersion: string | null;
  webhookFormat: string | null;
  registeredAt: string;
  removed: boolean;
  /** The config `sitesRevision` that last changed this site (0 before revisions were used). */
  configRevision?: number;
}

/**
 * The registry of downstream sites as recorded in the log (no secrets: key ids only), persisted.
 * Sites are few and read on every handoff and webhook: the rows are mirrored in a map that only
 * committed rows fill (reloaded after each change).
 */
export class SitesView implements PersistedProjection {
  readonly name = 'sites';
  readonly version = 3;
  readonly tables = ['sites'];
  private st!: { put: ReadStatement; get: ReadStatement<{ doc: string }>; all: ReadStatement<{ doc: string }> };
  private mirror: Map<string, SiteView> | null = null;

  open(db: ReadDatabase): void {
    db.exec(`CREATE TABLE IF NOT EXISTS sites (site_id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;`);
    this.st = {
      put: db.prepare(`INSERT OR REPLACE INTO sites (site_id, doc) VALUES (?, ?)`),
      get: db.prepare(`SELECT doc FROM sites WHERE site_id = ?`),
      all: db.prepare(`SELECT doc FROM sites ORDER BY site_id`),
    };
    this.mirror = null;
  }

  forget(): void {
    this.mirror = null;
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    if (e.type === 'SiteRegistered' || e.type === 'SiteUpdated') {
      const d = e.data as Record<string, unknown> & { siteId: string };
      const row = this.st.get.get(d.siteId);
      const prev = row ? (JSON.parse(row.doc) as SiteView) : undefined;
      const keyIds = (d.keyIds as string[]) ?? prev?.keyIds ?? [];
      const keyAddedAt: Record<string, string> = {};
      for (const k of keyIds) keyAddedAt[k] = prev?.keyAddedAt?.[k] ?? e.metadata.recordedAt;
      const next: SiteView = {
        siteId: d.siteId,
        name: (d.name as string) ?? prev?.name ?? d.siteId,
        returnUrls: (d.returnUrls as string[]) ?? prev?.returnUrls ?? [],
        webhookUrl: d.webhookUrl !== undefined ? ((d.webhookUrl as string | null) ?? null) : (prev?.webhookUrl ?? null),
        fields: (d.fields as string[]) ?? prev?.fields ?? [],
        keyIds,
        keyAddedAt,
        handoffVersion: d.handoffVersion !== undefined ? ((d.handoffVersion as string | null) ?? null) : (prev?.handoffVersion ?? null),
        webhookFormat: d.webhookFormat !== undefined ? ((d.webhookFormat as string | null) ?? null) : (prev?.webhookFormat ?? null),
        registeredAt: prev?.registeredAt ?? e.metadata.recordedAt,
        removed: false,
        configRevision: typeof d.configRevision === 'number' ? d.configRevision : 0,
      };
      this.st.put.run(d.siteId, JSON.stringify(next));
      this.mirror = null;
    } else if (e.type === 'SiteRemoved') {
      const row = this.st.get.get(e.data.siteId);
      if (row)
        this.st.put.run(
          e.data.siteId,
          JSON.stringify({ ...(JSON.parse(row.doc) as SiteView), removed: true, configRevision: e.data.configRevision ?? 0 }),
        );
      this.mirror = null;
    }
  }

  /** Every site ever registered (removed ones flagged), by id. */
  get byId(): ReadonlyMap<string, SiteView> {
    if (!this.mirror)
      this.mirror = new Map(
        this.st.all
          .all()
          .map((r) => JSON.parse(r.doc) as SiteView)
          .map((s) => [s.siteId, s]),
      );
    return this.mirror;
  }

  /** The highest config `sitesRevision` the log has applied to the registry (0: none used). */
  latestRevision(): number {
    let max = 0;
    for (const s of this.byId.values()) max = Math.max(max, s.configRevision ?? 0);
    return max;
  }

  active(): SiteView[] {
    return [...this.byId.values()].filter((s) => !s.removed);
  }
}
