import type { CliCommand } from './command.js';
import { startCommand } from './commands/start.js';
import { usersCommand } from './commands/users.js';
import { replayCommand } from './commands/replay.js';
import { auditCommand } from './commands/audit.js';
import { eventsExportCommand } from './commands/events-export.js';
import { eventsCopyCommand } from './commands/events-copy.js';
import { bansCommand } from './commands/bans.js';
import { adminTokenCommand } from './commands/admin-token.js';
import { identitiesCommand } from './commands/identities.js';
import { projectionsCommand } from './commands/projections.js';

/** Every `broker` command, one line each. Add yours here. */
export const COMMANDS: CliCommand[] = [
  adminTokenCommand,
  startCommand,
  usersCommand,
  replayCommand,
  auditCommand,
  eventsExportCommand,
  eventsCopyCommand,
  bansCommand,
  identitiesCommand,
  projectionsCommand,
];

/** The command whose (possibly multi-word) name is the longest prefix of argv. */
export function findCommand(argv: string[]): { command: CliCommand; rest: string[] } | null {
  let best: CliCommand | null = null;
  let words = 0;
  for (const c of COMMANDS) {
    const parts = c.name.split(' ');
    if (parts.length > words && parts.every((p, i) => argv[i] === p)) {
      best = c;
      words = parts.length;
    }
  }
  return best ? { command: best, rest: argv.slice(words) } : null;
}
