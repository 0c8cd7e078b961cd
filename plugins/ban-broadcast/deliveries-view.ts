import type { KnownEvent, PersistedProjection, ReadDatabase, ReadStatement, RecordedEvent } from '../../plugin/index.js';
import { evolveDelivery, initialDelivery, type DeliveryState } from './delivery-state.js';
import type { NotificationKind } from './events.js';

export interface BroadcastView {
  banEventId: string;
  userId: string;
  kind: NotificationKind;
  queuedAt: string;
  position: number;
  sites: Map<string, DeliveryState>;
}

type BroadcastRow = { ban_event_id: string; user_id: string; kind: string; queued_at: string; ban_position: number };
type DeliveryRow = { ban_event_id: string; site_id: string; state: string };

/**
 * Operators' view of every ban broadcast: per ban, per site, acknowledged when / still retrying /
 * gave up. Also the reactor's list of unfinished work when it starts (the log is the queue).
 *
 * Persisted: a broadcast per row (ordered by the position of its `BanBroadcastQueued`), a delivery
 * per (ban, site) with its `DeliveryState` as JSON and its status beside it, so the unfinished ones
 * are read through a partial index however many finished deliveries the history holds.
 */
export class DeliveriesView implements PersistedProjection {
  readonly name = 'ban-broadcast.deliveries';
  readonly version = 1;
  readonly tables = ['ban_broadcasts', 'ban_deliveries', 'ban_disabled_endpoints'];
  private st!: {
    putBroadcast: ReadStatement;
    clearSites: ReadStatement;
    putDelivery: ReadStatement;
    hasBroadcast: ReadStatement<{ x: number }>;
    getDelivery: ReadStatement<{ state: string }>;
    disable: ReadStatement;
    disabled: ReadStatement<{ site_id: string; url: string }>;
    listAll: ReadStatement<BroadcastRow>;
    listUser: ReadStatement<BroadcastRow>;
    sitesOf: ReadStatement<DeliveryRow>;
    unfinished: ReadStatement<DeliveryRow>;
  };

  open(db: ReadDatabase): void {
    db.exec(`CREATE TABLE IF NOT EXISTS ban_broadcasts (ban_event_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, kind TEXT NOT NULL,
        queued_at TEXT NOT NULL, ban_position INTEGER NOT NULL, queued_position INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS ban_broadcasts_order ON ban_broadcasts (queued_position);
      CREATE INDEX IF NOT EXISTS ban_broadcasts_user ON ban_broadcasts (user_id, queued_position);
      CREATE TABLE IF NOT EXISTS ban_deliveries (ban_event_id TEXT NOT NULL, site_id TEXT NOT NULL, status TEXT NOT NULL, state TEXT NOT NULL,
        UNIQUE (ban_event_id, site_id));
      CREATE INDEX IF NOT EXISTS ban_deliveries_unfinished ON ban_deliveries (ban_event_id) WHERE status IN ('pending', 'retrying');
      CREATE TABLE IF NOT EXISTS ban_disabled_endpoints (site_id TEXT PRIMARY KEY, url TEXT NOT NULL) WITHOUT ROWID;`);
    this.st = {
      // A second BanBroadcastQueued for the same ban (never written: `no_stream`) would start it over, keeping its place.
      putBroadcast:
        db.prepare(`INSERT INTO ban_broadcasts (ban_event_id, user_id, kind, queued_at, ban_position, queued_position) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (ban_event_id) DO UPDATE SET user_id = excluded.user_id, kind = excluded.kind, queued_at = excluded.queued_at, ban_position = excluded.ban_position`),
      clearSites: db.prepare(`DELETE FROM ban_deliveries WHERE ban_event_id = ?`),
      // An upsert keeps the rowid, so sites stay in the order the broadcast named them.
      putDelivery: db.prepare(`INSERT INTO ban_deliveries (ban_event_id, site_id, status, state) VALUES (?, ?, ?, ?)
        ON CONFLICT (ban_event_id, site_id) DO UPDATE SET status = excluded.status, state = excluded.state`),
      hasBroadcast: db.prepare(`SELECT 1 AS x FROM ban_broadcasts WHERE ban_event_id = ?`),
      getDelivery: db.prepare(`SELECT state FROM ban_deliveries WHERE ban_event_id = ? AND site_id = ?`),
      disable: db.prepare(`INSERT OR REPLACE INTO ban_disabled_endpoints (site_id, url) VALUES (?, ?)`),
      disabled: db.prepare(`SELECT site_id, url FROM ban_disabled_endpoints ORDER BY site_id`),
      listAll: db.prepare(
        `SELECT ban_event_id, user_id, kind, queued_at, ban_position FROM ban_broadcasts ORDER BY queued_position DESC LIMIT ?`,
      ),
      listUser: db.prepare(
        `SELECT ban_event_id, user_id, kind, queued_at, ban_position FROM ban_broadcasts WHERE user_id = ? ORDER BY queued_position DESC LIMIT ?`,
      ),
      sitesOf: db.prepare(`SELECT ban_event_id, site_id, state FROM ban_deliveries WHERE ban_event_id = ? ORDER BY rowid`),
      // No ORDER BY: in the partial index's order (by ban), an ORDER BY rowid would make SQLite scan the table instead.
      unfinished: db.prepare(`SELECT ban_event_id, site_id, state FROM ban_deliveries WHERE status IN ('pending', 'retrying')`),
    };
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    if (e.type === 'BanBroadcastQueued') {
      const d = e.data;
      this.st.putBroadcast.run(d.banEventId, d.userId, d.kind, e.metadata.recordedAt, d.banPosition, e.position);
      this.st.clearSites.run(d.banEventId);
      const initial = initialDelivery();
      for (const s of d.siteIds) this.st.putDelivery.run(d.banEventId, s, initial.status, JSON.stringify(initial));
      return;
    }
    if (e.type === 'WebhookEndpointDisabled') {
      this.st.disable.run(e.data.siteId, e.data.url);
      return;
    }
    if (
      e.type === 'BanNotificationRequeued' ||
      e.type === 'BanNotificationDelivered' ||
      e.type === 'BanNotificationFailed' ||
      e.type === 'BanNotificationAbandoned'
    ) {
      const { banEventId, siteId } = e.data;
      if (!this.st.hasBroadcast.get(banEventId)) return;
      const row = this.st.getDelivery.get(banEventId, siteId);
      const next = evolveDelivery(row ? (JSON.parse(row.state) as DeliveryState) : initialDelivery(), raw);
      this.st.putDelivery.run(banEventId, siteId, next.status, JSON.stringify(next));
    }
  }

  /** siteId -> URL that answered 410 Gone. */
  disabledEndpoints(): Map<string, string> {
    return new Map(this.st.disabled.all().map((r) => [r.site_id, r.url]));
  }

  /** Newest first, at most `limit`; only one user's when `userId` is given. */
  list(userId?: string, limit = 200): BroadcastView[] {
    const rows = userId ? this.st.listUser.all(userId, limit) : this.st.listAll.all(limit);
    return rows.map((b) => ({
      banEventId: b.ban_event_id,
      userId: b.user_id,
      kind: b.kind as NotificationKind,
      queuedAt: b.queued_at,
      position: b.ban_position,
      sites: new Map(this.st.sitesOf.all(b.ban_event_id).map((r) => [r.site_id, JSON.parse(r.state) as DeliveryState])),
    }));
  }

  /** Deliveries not yet acknowledged nor given up, from the partial index on their status. */
  unfinished(): { banEventId: string; siteId: string; state: DeliveryState }[] {
    return this.st.unfinished
      .all()
      .map((r) => ({ banEventId: r.ban_event_id, siteId: r.site_id, state: JSON.parse(r.state) as DeliveryState }));
  }
}
