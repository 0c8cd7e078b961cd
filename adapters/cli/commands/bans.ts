import { DeliveriesView, requeueDelivery } from '../../../plugins/ban-broadcast/index.js';
import type { DeliveryState } from '../../../plugins/ban-broadcast/delivery-state.js';
import { parseArgs } from '../args.js';
import type { CliCommand } from '../command.js';
import { nodeReadModels, openCliContext, resolveUser } from '../context.js';
import { UsageError, out, type CliIo } from '../io.js';
import { renderTable } from '../table.js';

const USAGE = `broker bans deliveries [<user id|email>] [--limit <n, default 1000>] [--json]
       broker bans redeliver <ban event id> <site id>`;

function detail(s: DeliveryState): string {
  switch (s.status) {
    case 'delivered':
      return `acknowledged ${s.deliveredAt} (HTTP ${s.lastStatus})`;
    case 'retrying':
      return `last: ${s.lastError}; next ${s.nextAttemptAt ? new Date(s.nextAttemptAt).toISOString() : ''}`;
    case 'abandoned':
      return `gave up: ${s.abandonReason}`;
    default:
      return 'queued';
  }
}

/** Ban webhooks from the log: who acknowledged when, who is retrying, who gave up; and "send that one again". */
export const bansCommand: CliCommand = {
  name: 'bans',
  summary: 'ban webhook deliveries per ban and site; redeliver one',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === 'deliveries') {
      const args = parseArgs(rest, { booleans: ['json'], values: ['limit'] });
      if (args.positional.length > 1) throw new UsageError('bans deliveries takes at most one <user id|email>');
      const limit = Number(args.flags.get('limit') ?? 1000);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit takes a positive integer');
      const ctx = await openCliContext(rest, io);
      try {
        const userId = args.positional[0] ? await resolveUser(ctx.users, args.positional[0]) : undefined;
        // The node's persisted deliveries view, caught up with the tail: no replay of the whole log.
        const view = new DeliveriesView();
        const node = await nodeReadModels(ctx, [view]);
        let bans;
        try {
          bans = view.list(userId, limit); // newest first
        } finally {
          node.close();
        }
        if (args.flags.has('json')) {
          out(
            io,
            JSON.stringify(
              bans.map((b) => ({ ...b, sites: Object.fromEntries(b.sites) })),
              null,
              2,
            ),
          );
          return 0;
        }
        const rows = bans.flatMap((b) =>
          [...b.sites].map(([siteId, s]) => [b.banEventId, b.kind, b.userId, siteId, s.status, String(s.attempts), detail(s)]),
        );
        out(io, renderTable(['ban event', 'type', 'user', 'site', 'state', 'attempts', 'detail'], rows));
        out(io, `${bans.length} broadcast(s)`);
        return 0;
      } finally {
        await ctx.close();
      }
    }
    if (sub === 'redeliver') {
      const args = parseArgs(rest);
      if (args.positional.length !== 2) throw new UsageError('bans redeliver takes <ban event id> <site id>');
      const ctx = await openCliContext(rest, io);
      try {
        const [banEventId, siteId] = args.positional;
        const position = await requeueDelivery(ctx.store, banEventId, siteId, ctx.actor);
        out(io, `re-queued ${banEventId} for ${siteId} (position ${position}); the running broker sends it`);
        return 0;
      } finally {
        await ctx.close();
      }
    }
    throw new UsageError(sub ? `unknown subcommand ${sub}` : 'a subcommand is needed');
  },
};
