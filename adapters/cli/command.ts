import type { CliIo } from './io.js';

/**
 * One operator command. `name` may have several words (`events export`): the CLI picks the
 * longest name that matches the start of the arguments and passes the rest to `run`.
 * `run` returns the exit code (0 ok, 1 failure or tampering); a UsageError or ConfigError it
 * throws exits 2, a DomainError exits 1.
 */
export interface CliCommand {
  name: string;
  summary: string;
  /** Shown with `broker help <name>` and after a usage error. */
  usage: string;
  run(args: string[], io: CliIo): Promise<number>;
}
