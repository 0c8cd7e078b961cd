// The operator CLI, callable in-process (tests) or from main.ts. Exit codes: 0 ok, 1 failure or tampering, 2 usage or config error.
import { DomainError } from '../../core/index.js';
import { ConfigError } from '../../config/errors.js';
import { COMMANDS, findCommand } from './registry.js';
import { CommandFailed, EXIT, UsageError, err, out, type CliIo } from './io.js';

function help(io: CliIo): void {
  out(io, 'usage: broker <command> [options]   (every command takes --config <file>; default: BROKER_CONFIG, else built-in defaults)');
  out(io);
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  for (const c of COMMANDS) out(io, `  ${c.name.padEnd(width)}  ${c.summary}`);
  out(io);
  out(io, 'broker help <command> shows its options.');
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    const found = argv.length > 1 ? findCommand(argv.slice(1)) : null;
    if (found) out(io, `usage: ${found.command.usage}`);
    else help(io);
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const found = findCommand(argv);
  if (!found) {
    err(io, `broker: unknown command "${argv[0]}"`);
    help({ ...io, stdout: io.stderr });
    return EXIT.usage;
  }
  const { command, rest } = found;
  // `broker <command> [...] --help` shows that command's usage, whatever else is on the line.
  if (rest.includes('--help') || rest.includes('-h')) {
    out(io, `usage: ${command.usage}`);
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    // Operators get a message, never a stack trace (it may carry config values).
    if (e instanceof UsageError) {
      err(io, `broker ${command.name}: ${e.message}`);
      err(io, `usage: ${command.usage}`);
      return EXIT.usage;
    }
    if (e instanceof ConfigError) {
      err(io, `broker: config error: ${e.message}`);
      return EXIT.usage;
    }
    if (e instanceof DomainError || e instanceof CommandFailed) {
      err(io, `broker ${command.name}: ${e.message}`);
      return EXIT.failure;
    }
    err(io, `broker ${command.name}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    if (io.env.BROKER_DEBUG) err(io, (e as Error)?.stack ?? '');
    return EXIT.failure;
  }
}
