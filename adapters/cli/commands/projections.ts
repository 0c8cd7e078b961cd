import { retryStream } from '../../../core/index.js';
import { parseArgs } from '../args.js';
import type { CliCommand } from '../command.js';
import { openCliContext } from '../context.js';
import { UsageError, out, type CliIo } from '../io.js';

const USAGE = `broker projections retry <name>`;

/**
 * Releases a quarantined projection or reactor (one that threw on an event) after the fix: a
 * `ComponentRetryRequested` in the log, which every running node sees through its subscription
 * (and a stopped node at its next start). A projection then catches up from where it stopped; a
 * reactor is started again and resumes from its own checkpoint. If it throws again it is held again.
 */
export const projectionsCommand: CliCommand = {
  name: 'projections',
  summary: 'retry a quarantined projection or reactor (after the fix)',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub !== 'retry') throw new UsageError(sub ? `unknown subcommand ${sub}` : 'a subcommand is needed');
    const args = parseArgs(rest);
    if (args.positional.length !== 1) throw new UsageError('projections retry takes one <name> (as /readyz lists it under quarantined)');
    const [name] = args.positional;
    const ctx = await openCliContext(rest, io);
    try {
      const res = await ctx.store.append(retryStream(name), [{ type: 'ComponentRetryRequested', data: { component: name }, metadata: { actor: ctx.actor } }]);
      out(io, `retry of ${name} requested (position ${res.position}); every running broker node takes it up from the log`);
      return 0;
    } finally {
      await ctx.close();
    }
  },
};
