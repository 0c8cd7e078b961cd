import type { RecordedEvent, Projection, KnownEvent } from '../../core/index.js';
import type { Plugin } from '../../adapters/kernel/boot.js';

/**
 * The smallest useful plugin: a projection (logins per day) and a route that shows it.
 * Read plugins/example/README.md for the walk-through.
 */
class LoginsPerDay implements Projection {
  readonly name = 'example.logins-per-day';
  checkpoint = 0;
  readonly days = new Map<string, number>();
  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    if (e.type !== 'LoginSucceeded') return;
    const day = e.metadata.recordedAt.slice(0, 10);
    this.days.set(day, (this.days.get(day) ?? 0) + 1);
  }
  reset(): void {
    this.days.clear();
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
    ctx.web.app.get(ctx.config.path, async () => ({ days: Object.fromEntries(view.days), checkpoint: view.checkpoint }));
  },
};

export default plugin;
