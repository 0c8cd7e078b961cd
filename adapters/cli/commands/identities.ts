import { parseArgs } from '../args.js';
import type { CliCommand } from '../command.js';
import { openCliContext, resolveUser } from '../context.js';
import { UsageError, out, type CliIo } from '../io.js';

const USAGE = `broker identities link <user id|email> <issuer> <subject>
       broker identities unlink <user id|email> <issuer> <subject>
       broker identities list <user id|email>`;

/**
 * Admin linking (seed 002: `explicit` provisioning lets in only identities an admin linked).
 * Goes through `Users`, so the sub@issuer reservation keeps one user per external identity.
 */
export const identitiesCommand: CliCommand = {
  name: 'identities',
  summary: 'link or unlink an external identity (sub@issuer) to a user',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub !== 'link' && sub !== 'unlink' && sub !== 'list')
      throw new UsageError(sub ? `unknown subcommand ${sub}` : 'a subcommand is needed');
    const args = parseArgs(rest);
    const want = sub === 'list' ? 1 : 3;
    if (args.positional.length !== want)
      throw new UsageError(
        sub === 'list' ? 'identities list takes <user id|email>' : `identities ${sub} takes <user id|email> <issuer> <subject>`,
      );
    const ctx = await openCliContext(rest, io);
    try {
      const userId = await resolveUser(ctx.users, args.positional[0]);
      if (sub === 'list') {
        for (const i of (await ctx.users.load(userId)).identities) out(io, `${i.subject}\t${i.issuer}`);
        return 0;
      }
      const [, issuer, subject] = args.positional;
      const meta = { actor: ctx.actor };
      const res =
        sub === 'link'
          ? await ctx.users.execute(userId, { type: 'linkIdentity', issuer, subject, via: 'admin' }, meta)
          : await ctx.users.execute(userId, { type: 'unlinkIdentity', issuer, subject }, meta);
      if (!res.events.length) {
        // Idempotent: nothing recorded, and the operator is told so rather than shown a position.
        out(
          io,
          sub === 'link'
            ? `${subject} @ ${issuer} is already linked to user ${userId}: nothing recorded`
            : `${subject} @ ${issuer} was not linked to user ${userId}: nothing recorded`,
        );
        return 0;
      }
      out(
        io,
        `${sub === 'link' ? 'linked' : 'unlinked'} ${subject} @ ${issuer} ${sub === 'link' ? 'to' : 'from'} user ${userId} (position ${res.position})`,
      );
      return 0;
    } finally {
      await ctx.close();
    }
  },
};
