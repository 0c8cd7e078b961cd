import type { RecordedEvent, KnownEvent } from '../events/envelope.js';
import type { Projection } from './projection.js';

export interface SiteView {
  siteId: string;
  name: string;
  returnUrls: string[];
  webhookUrl: string | null;
  fields: string[];
  keyIds: string[];
  handoffVersion: string | null;
  webhookFormat: string | null;
  registeredAt: string;
  removed: boolean;
}

/** The registry of downstream sites as recorded in the log (no secrets: key ids only). */
export class SitesView implements Projection {
  readonly name = 'sites';
  checkpoint = 0;
  readonly byId = new Map<string, SiteView>();

  reset(): void {
    this.byId.clear();
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    if (e.type === 'SiteRegistered' || e.type === 'SiteUpdated') {
      const d = e.data as Record<string, unknown> & { siteId: string };
      const prev = this.byId.get(d.siteId);
      this.byId.set(d.siteId, {
        siteId: d.siteId,
        name: (d.name as string) ?? prev?.name ?? d.siteId,
        returnUrls: (d.returnUrls as string[]) ?? prev?.returnUrls ?? [],
        webhookUrl: d.webhookUrl !== undefined ? ((d.webhookUrl as string | null) ?? null) : (prev?.webhookUrl ?? null),
        fields: (d.fields as string[]) ?? prev?.fields ?? [],
        keyIds: (d.keyIds as string[]) ?? prev?.keyIds ?? [],
        handoffVersion: d.handoffVersion !== undefined ? ((d.handoffVersion as string | null) ?? null) : (prev?.handoffVersion ?? null),
        webhookFormat: d.webhookFormat !== undefined ? ((d.webhookFormat as string | null) ?? null) : (prev?.webhookFormat ?? null),
        registeredAt: prev?.registeredAt ?? e.metadata.recordedAt,
        removed: false,
      });
    } else if (e.type === 'SiteRemoved') {
      const s = this.byId.get(e.data.siteId);
      if (s) s.removed = true;
    }
  }

  active(): SiteView[] {
    return [...this.byId.values()].filter((s) => !s.removed);
  }
}
