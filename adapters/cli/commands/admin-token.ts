import { createHash, randomBytes } from 'node:crypto';
import { parseArgs, requireFlag } from '../args.js';
import type { CliCommand } from '../command.js';
import { UsageError, out, type CliIo } from '../io.js';

const USAGE = `broker admin-token --name <name> [--json]`;

/**
 * Mints an admin API token for `Authorization: Bearer` on the admin API. The token is printed once;
 * only its SHA-256 goes into the config (`admin.apiTokens`), so the config file never holds a
 * usable credential. A 256-bit random token needs no slow hash (it cannot be guessed from its hash).
 */
export const adminTokenCommand: CliCommand = {
  name: 'admin-token',
  summary: 'mint an admin API token and print the config entry holding its hash',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: ['name'], booleans: ['json'] });
    if (args.positional.length) throw new UsageError(`unexpected argument ${args.positional[0]}`);
    const name = requireFlag(args, 'name');
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new UsageError('--name: letters, digits, _ . - only (at most 64)');
    const token = `bat_${randomBytes(32).toString('base64url')}`;
    const tokenHash = createHash('sha256').update(token).digest('hex');
    if (args.flags.has('json')) {
      out(io, JSON.stringify({ name, token, tokenHash }));
      return 0;
    }
    out(io, `token (shown once, keep it secret):\n  ${token}\n`);
    out(io, `add to the config under admin.apiTokens:\n  - name: ${name}\n    tokenHash: ${tokenHash}`);
    return 0;
  },
};
