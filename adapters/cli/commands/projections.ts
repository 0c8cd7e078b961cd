import { retryStream } from '../../../core/index.js';
import { parseArgs } from '../args.js';
import type { CliCommand } from '../command.js';
import fs from 'node:fs';
import { openCliContext } from '../context.js';
import { readDatabasePath } from '../../read-models/open.js';
import { openSqliteReadDatabase } from '../../read-models/sqlite-read-database.js';
import { UsageError, err, out, type CliIo } from '../io.js';

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
      // Said, not refused: this node's read file is not every node's, and a name mistyped would
      // otherwise release nothing without a word.
      const reactorHeld = (await ctx.store.readStream(`reactor-${name}`)).some((e) => e.type === 'ReactorQuarantined');
      if (!reactorHeld && !projectionHeldHere(readDatabasePath(ctx.config), name)) {
        err(
          io,
          `note: no reactor ${name} was ever quarantined in the log, and no projection ${name} is quarantined in this node's read file; requesting anyway`,
        );
      }
      const res = await ctx.store.append(retryStream(name), [
        { type: 'ComponentRetryRequested', data: { component: name }, metadata: { actor: ctx.actor } },
      ]);
      out(io, `retry of ${name} requested (position ${res.position}); every running broker node takes it up from the log`);
      return 0;
    } finally {
      await ctx.close();
    }
  },
};

function projectionHeldHere(file: string, name: string): boolean {
  if (file === ':memory:' || !fs.existsSync(file)) return false;
  const db = openSqliteReadDatabase({ path: file, readonly: true });
  try {
    return (
      !!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'projection_quarantine'").get() &&
      !!db.prepare('SELECT 1 FROM projection_quarantine WHERE name = ?').get(name)
    );
  } finally {
    db.close();
  }
}
