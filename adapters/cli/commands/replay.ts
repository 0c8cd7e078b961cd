import { replayLog, type ReadModels } from '../../../core/index.js';
import { flag, parseArgs } from '../args.js';
import type { CliCommand } from '../command.js';
import { freshReadModels, openCliContext } from '../context.js';
import { UsageError, err, out, type CliIo } from '../io.js';
import { ProgressBar } from '../progress.js';

/** `--until 1234` (a position) or `--until 2026-01-31T12:00:00Z` (state as of that time). */
export function parseUntil(value: string | undefined): number | Date | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  if (/^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(Date.parse(value))) return new Date(value);
  throw new UsageError(`--until must be a position or an ISO time, got ${JSON.stringify(value)}`);
}

export function stateSummary(read: ReadModels): Record<string, number> {
  const s = read.users.stats();
  return {
    users: s.live,
    banned: read.bans.activeCount(),
    disabled: s.disabled,
    erased: s.erased,
    identities: s.identities,
    sessions: read.sessions.count(),
    sites: read.sites.byId.size,
  };
}

export const replayCommand: CliCommand = {
  name: 'replay',
  summary: 'rebuild every core read model from the log (optionally as of a position or time) and summarise the state',
  usage: 'broker replay [--until <position|ISO time>] [--json]',
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: ['until'], booleans: ['json'] });
    if (args.positional.length) throw new UsageError(`unexpected argument ${args.positional[0]}`);
    const until = parseUntil(flag(args, 'until'));
    const ctx = await openCliContext(argv, io);
    try {
      const head = await ctx.store.headPosition();
      const total = typeof until === 'number' ? Math.min(until, head) : head;
      const bar = new ProgressBar(io.stderr, total);
      const { engine, read } = freshReadModels();
      const res = await replayLog(ctx.store, engine, { until, onProgress: (_applied, position) => bar.update(position) });
      bar.finish(res.position);
      const seconds = Math.max(res.ms, 0.001) / 1000;
      const rate = Math.round(res.applied / seconds);
      const summary = stateSummary(read);
      if (args.flags.has('json')) {
        out(
          io,
          JSON.stringify({
            applied: res.applied,
            position: res.position,
            head,
            ms: Math.round(res.ms),
            eventsPerSecond: rate,
            unknown: engine.unknown.length,
            state: summary,
          }),
        );
      } else {
        out(io, `replayed ${res.applied} events (position ${res.position} of ${head}) in ${res.ms.toFixed(0)} ms: ${rate} events/s`);
        if (until !== undefined) out(io, `state as of ${until instanceof Date ? until.toISOString() : `position ${until}`}:`);
        for (const [k, v] of Object.entries(summary)) out(io, `  ${k.padEnd(10)} ${v}`);
      }
      // An event this code cannot read is reported, not fatal: the rest of the state is still right.
      if (engine.unknown.length)
        err(
          io,
          `warning: ${engine.unknown.length} event(s) of unknown type or version skipped (first at position ${engine.unknown[0].position}: ${engine.unknown[0].type} v${engine.unknown[0].version})`,
        );
      return 0;
    } finally {
      await ctx.close();
    }
  },
};
