/**
 * A configuration problem: a bad value (named by its path), a missing environment variable, an
 * unreadable file. The CLI prints the message and exits 2 without a stack trace; boot throws it for
 * plugin config errors. Lives here (not in the kernel) so loading a config never loads fastify.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
