import type { KnownEvent, PersistedProjection, ReadDatabase, ReadStatement, RecordedEvent, Plugin } from '../../plugin/index.js';

/**
 * The smallest useful plugin: a persisted projection (logins per day) and a route that shows it.
 * Read plugins/example/README.md for the walk-through.
 */
export class LoginsPerDay implements PersistedProjection {
  readonly name = 'example.logins-per-day';
  /** Bump it when `apply` or the table changes: the table is dropped and rebuilt from the log. */
  readonly version = 1;
  /** Every table this projection owns (dropped on a rebuild); prefixed with the plugin's name. */
  readonly tables = ['example_logins_per_day'];
  private count!: ReadStatement;
  private all!: ReadStatement<{ day: string; logins: number }>;

  open(db: ReadDatabase): void {
    db.exec(`CREATE TABLE IF NOT EXISTS example_logins_per_day (day TEXT PRIMARY KEY, logins INTEGER NOT NULL) WITHOUT ROWID`);
    this.count = db.prepare(`INSERT INTO example_logins_per_day (day, logins) VALUES (?, 1)
      ON CONFLICT (day) DO UPDATE SET logins = logins + 1`);
    this.all = db.prepare(`SELECT day, logins FROM example_logins_per_day ORDER BY day DESC LIMIT ?`);
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    if (e.type !== 'LoginSucceeded') return;
    // The event's time, never the clock: a rebuild from the log must give the same rows.
    this.count.run(e.metadata.recordedAt.slice(0, 10));
  }

  /** The most recent `limit` days that had logins: `{ 'YYYY-MM-DD': count }`. */
  days(limit = 366): Record<string, number> {
    return Object.fromEntries(this.all.all(limit).map((r) => [r.day, r.logins]));
  }
}

interface ExampleConfig {
  path: string;
}

const plugin: Plugin<ExampleConfig> = {
  name: 'example',
  configSchema: {
    type: 'object',
    properties: { path: { type: 'string', pattern: '^/', default: '/example/logins-per-day' } },
    additionalProperties: false,
  },
  register(ctx) {
    const view = new LoginsPerDay();
    ctx.add.projection(view);
    ctx.web.app.get(ctx.config.path, async () => ({ days: view.days(), checkpoint: ctx.projections.checkpointOf(view.name) }));
  },
};

export default plugin;
