import { flag, parseArgs } from '../args.js';
import type { CliCommand } from '../command.js';
import { openCliContext } from '../context.js';
import { UsageError, writeChunk, type CliIo } from '../io.js';

export const eventsExportCommand: CliCommand = {
  name: 'events export',
  summary: 'write the log to stdout, one JSON envelope per line (for a SIEM)',
  usage: 'broker events export --jsonl [--after <position>]',
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: ['after'], booleans: ['jsonl'] });
    if (args.positional.length) throw new UsageError(`unexpected argument ${args.positional[0]}`);
    if (!args.flags.has('jsonl')) throw new UsageError('--jsonl is required (the only format)');
    const afterFlag = flag(args, 'after') ?? '0';
    if (!/^\d+$/.test(afterFlag)) throw new UsageError('--after must be a position (a non-negative integer)');
    const ctx = await openCliContext(argv, io);
    try {
      let after = Number(afterFlag);
      const pageSize = 5000;
      for (;;) {
        const page = await ctx.store.readAll({ after, limit: pageSize });
        // Envelopes as stored (hash and prevHash included), so a SIEM can verify the chains itself.
        if (page.length) await writeChunk(io.stdout, page.map((e) => JSON.stringify(e)).join('\n') + '\n');
        if (page.length) after = page[page.length - 1].position;
        if (page.length < pageSize) break;
      }
      return 0;
    } finally {
      await ctx.close();
    }
  },
};
