import type { KnownEvent, PersistedProjection, ReadDatabase, ReadStatement, RecordedEvent } from '../../../plugin/index.js';

/** The series the dashboard charts. */
export const ACTIVITY_KINDS = ['login', 'failure', 'ban'] as const;
export type ActivityKind = (typeof ACTIVITY_KINDS)[number];

/**
 * Logins, failed logins and bans per hour, persisted, so the dashboard reads a few hundred rows
 * instead of scanning the log. Hours (UTC) from the events' own times: a rebuild gives the same rows.
 */
export class ActivityView implements PersistedProjection {
  readonly name = 'admin.activity';
  readonly version = 1;
  readonly tables = ['admin_activity'];
  private st!: { bump: ReadStatement; range: ReadStatement<{ hour: string; kind: string; n: number }> };

  open(db: ReadDatabase): void {
    db.exec(
      `CREATE TABLE IF NOT EXISTS admin_activity (hour TEXT NOT NULL, kind TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (hour, kind)) WITHOUT ROWID`,
    );
    this.st = {
      bump: db.prepare(`INSERT INTO admin_activity (hour, kind, n) VALUES (?, ?, 1) ON CONFLICT (hour, kind) DO UPDATE SET n = n + 1`),
      range: db.prepare(`SELECT hour, kind, n FROM admin_activity WHERE hour >= ? AND hour < ? ORDER BY hour`),
    };
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    const kind: ActivityKind | null =
      e.type === 'LoginSucceeded' ? 'login' : e.type === 'LoginFailed' ? 'failure' : e.type === 'UserBanned' ? 'ban' : null;
    if (kind) this.st.bump.run(e.metadata.recordedAt.slice(0, 13), kind);
  }

  /**
   * Counts per bucket for `buckets` buckets of `hoursPerBucket` hours ending with the one holding
   * `now`: one array per kind, oldest first, and each bucket's start.
   */
  series(now: Date, buckets: number, hoursPerBucket: number): { starts: Date[]; counts: Record<ActivityKind, number[]> } {
    const H = 3600_000;
    const span = hoursPerBucket * H;
    const end = Math.floor(now.getTime() / span) * span + span;
    const start = end - buckets * span;
    const starts = Array.from({ length: buckets }, (_, i) => new Date(start + i * span));
    const counts = {
      login: new Array<number>(buckets).fill(0),
      failure: new Array<number>(buckets).fill(0),
      ban: new Array<number>(buckets).fill(0),
    };
    const hourKey = (ms: number) => new Date(ms).toISOString().slice(0, 13);
    for (const r of this.st.range.all(hourKey(start), hourKey(end))) {
      const i = Math.floor((Date.parse(`${r.hour}:00:00Z`) - start) / span);
      if (i >= 0 && i < buckets && r.kind in counts) counts[r.kind as ActivityKind][i] += r.n;
    }
    return { starts, counts };
  }
}
