import { redactSecrets, storedEvents, type RecordedEvent } from '../../../core/index.js';
import { PersonalDataStore, openedParts } from '../../crypto/personal-data.js';
import { loadEventDefinitions } from '../../kernel/event-definitions.js';
import { flag, parseArgs } from '../args.js';
import type { CliCommand } from '../command.js';
import { openCliContext } from '../context.js';
import { UsageError, err, writeChunk, type CliIo } from '../io.js';

/**
 * One exported line. By default the fields each event type declares secret (core/events/
 * secret-fields.ts) are replaced and listed in `redacted`; `hash` and `prevHash` stay as stored, so
 * the chains still verify (docs/security/export.md). `--include-secrets` writes envelopes as stored,
 * for a backup that `events copy` or a restore can take back.
 */
function line(stored: RecordedEvent, opened: RecordedEvent, includeSecrets: boolean): string {
  if (includeSecrets) return JSON.stringify(stored);
  const { event, redacted } = redactSecrets(opened);
  // Personal fields are shown opened (or `[erased]`), with the sealed form they were stored in, so
  // the hash stays recomputable (docs/security/export.md).
  const parts = openedParts(stored, opened);
  return JSON.stringify({ ...event, ...(redacted.length ? { redacted } : {}), ...(parts ?? {}) });
}

export const eventsExportCommand: CliCommand = {
  name: 'events export',
  summary: 'write the log to stdout, one JSON envelope per line, secrets redacted (for a SIEM)',
  usage: 'broker events export --jsonl [--after <position>] [--include-secrets]',
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: ['after'], booleans: ['jsonl', 'include-secrets'] });
    if (args.positional.length) throw new UsageError(`unexpected argument ${args.positional[0]}`);
    if (!args.flags.has('jsonl')) throw new UsageError('--jsonl is required (the only format)');
    const afterFlag = flag(args, 'after') ?? '0';
    if (!/^\d+$/.test(afterFlag)) throw new UsageError('--after must be a position (a non-negative integer)');
    const includeSecrets = args.flags.has('include-secrets');
    const ctx = await openCliContext(argv, io);
    try {
      if (includeSecrets) {
        err(
          io,
          'warning: --include-secrets: the export holds password hashes, token hashes and encrypted keys; keep it like the database itself',
        );
      } else {
        const missing = await loadEventDefinitions(ctx.config.plugins);
        if (missing.length)
          err(io, `warning: plugin(s) ${missing.join(', ')} could not be loaded: their events are exported with the whole data redacted`);
      }
      let after = Number(afterFlag);
      const pageSize = 5000;
      for (;;) {
        // As stored (what the hashes cover); opened beside it unless the whole envelope is wanted as stored.
        const page = await storedEvents(ctx.store).readAll({ after, limit: pageSize });
        const opened = !includeSecrets && ctx.store instanceof PersonalDataStore ? await ctx.store.open(page) : page;
        if (page.length) await writeChunk(io.stdout, page.map((e, i) => line(e, opened[i], includeSecrets)).join('\n') + '\n');
        if (page.length) after = page[page.length - 1].position;
        if (page.length < pageSize) break;
      }
      return 0;
    } finally {
      await ctx.close();
    }
  },
};
