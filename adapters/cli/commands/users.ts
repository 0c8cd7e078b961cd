import type { UserView } from '../../../core/index.js';
import { flag, parseArgs, requireFlag } from '../args.js';
import type { CliCommand } from '../command.js';
import { nodeReadModels, openCliContext, resolveUser, type CliContext } from '../context.js';
import { UsageError, out, type CliIo } from '../io.js';
import { systemClock } from '../../../core/index.js';
import { createMailer } from '../../mail/mailer.js';
import { holdsPlaintextPersonalData } from '../../crypto/personal-data.js';
import { storedEvents } from '../../../core/index.js';
import { PasswordLinks, linkMail, linkUrl } from '../../../core/index.js';

/**
 * How a new user gets in: a one-time invitation link to set a password (password-login), mailed
 * when `mail` is configured, printed otherwise.
 */
async function invite(ctx: CliContext, io: CliIo, userId: string, email: string): Promise<void> {
  const link = (await new PasswordLinks(ctx.store, systemClock).issue(userId, 'invite', ctx.actor))!;
  const url = linkUrl(ctx.config.server.baseUrl, link.token);
  const mailer = createMailer(ctx.config.mail);
  if (mailer) {
    try {
      await mailer.send({ to: email, ...linkMail('invite', url, link.expiresAt) });
      out(io, `invitation mailed to ${email} (the link works once, until ${link.expiresAt.toISOString()})`);
      return;
    } finally {
      mailer.close();
    }
  }
  out(
    io,
    `no mail server configured (config \`mail\`): send this link to ${email} yourself; it works once, until ${link.expiresAt.toISOString()}:`,
  );
  out(io, url);
}

/** Events about the user (by the audit index) whose personal fields were written in clear. */
async function plaintextEventsOf(ctx: CliContext, userId: string): Promise<number> {
  const { read, close } = await nodeReadModels(ctx);
  try {
    const raw = storedEvents(ctx.store);
    let n = 0;
    for (const entry of read.audit.timeline(userId)) {
      const [e] = await raw.readAll({ after: entry.position - 1, limit: 1 });
      if (e && e.position === entry.position && holdsPlaintextPersonalData(e)) n++;
    }
    return n;
  } finally {
    close();
  }
}

const USAGE = `broker users add --email <email> [--name <name>] [--admin]
       broker users invite <email> [--name <name>] [--admin]
       broker users ban <id|email> --reason <text>
       broker users unban <id|email> [--reason <text>]
       broker users disable <id|email> [--reason <text>]
       broker users enable <id|email>
       broker users erase <id|email> --reason <text>
       broker users list [--json]`;

function status(u: UserView): string {
  if (u.erased) return 'erased';
  if (u.banned) return `banned (${u.banned.reason})`;
  if (u.disabled) return 'disabled';
  return 'active';
}

async function withContext<T>(argv: string[], io: CliIo, fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  const ctx = await openCliContext(argv, io);
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

/** Each change goes through `Users`, the same service the admin pages use: one fact, one code path. */
export const usersCommand: CliCommand = {
  name: 'users',
  summary: 'add, ban, unban, disable, enable and list users',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const [sub, ...rest] = argv;
    switch (sub) {
      case 'add': {
        const args = parseArgs(rest, { values: ['email', 'name'], booleans: ['admin'] });
        if (args.positional.length) throw new UsageError(`unexpected argument ${args.positional[0]}`);
        const email = requireFlag(args, 'email');
        return withContext(rest, io, async (ctx) => {
          const res = await ctx.users.register(
            { email, name: flag(args, 'name') ?? null, admin: args.flags.has('admin'), via: 'cli' },
            { actor: ctx.actor },
          );
          out(io, res.userId);
          // A user with no password and no way to get one is no use: say how they get in.
          await invite(ctx, io, res.userId, email);
          return 0;
        });
      }
      case 'invite': {
        const args = parseArgs(rest, { values: ['name'], booleans: ['admin'] });
        if (args.positional.length !== 1 || !args.positional[0].includes('@')) throw new UsageError('users invite takes one <email>');
        const email = args.positional[0].trim().toLowerCase();
        return withContext(rest, io, async (ctx) => {
          const existing = await ctx.users.findByEmail(email);
          const userId =
            existing ??
            (
              await ctx.users.register(
                { email, name: flag(args, 'name') ?? null, admin: args.flags.has('admin'), via: 'invite' },
                { actor: ctx.actor },
              )
            ).userId;
          if (existing) out(io, `${email} already has an account (${existing}): sending it a new link`);
          else out(io, userId);
          await invite(ctx, io, userId, email);
          return 0;
        });
      }
      case 'ban':
      case 'unban':
      case 'disable':
      case 'enable': {
        const args = parseArgs(rest, { values: sub === 'enable' ? [] : ['reason'] });
        if (args.positional.length !== 1) throw new UsageError(`users ${sub} takes one <id|email>`);
        const reason = sub === 'ban' ? requireFlag(args, 'reason') : (flag(args, 'reason') ?? null);
        return withContext(rest, io, async (ctx) => {
          const userId = await resolveUser(ctx.users, args.positional[0]);
          const meta = { actor: ctx.actor };
          const res =
            sub === 'ban'
              ? await ctx.users.execute(userId, { type: 'ban', reason: reason!, actor: ctx.actor }, meta)
              : sub === 'unban'
                ? await ctx.users.execute(userId, { type: 'unban', reason, actor: ctx.actor }, meta)
                : sub === 'disable'
                  ? await ctx.users.execute(userId, { type: 'disable', reason }, meta)
                  : await ctx.users.execute(userId, { type: 'enable' }, meta);
          const past = { ban: 'banned', unban: 'unbanned', disable: 'disabled', enable: 'enabled' }[sub];
          out(io, res.events.length ? `${past} ${userId} (position ${res.position})` : `${userId}: already ${past}, nothing recorded`);
          return 0;
        });
      }
      case 'erase': {
        const args = parseArgs(rest, { values: ['reason'] });
        if (args.positional.length !== 1) throw new UsageError('users erase takes one <id|email>');
        const reason = requireFlag(args, 'reason');
        return withContext(rest, io, async (ctx) => {
          const userId = await resolveUser(ctx.users, args.positional[0]);
          const res = await ctx.users.execute(userId, { type: 'erase', actor: ctx.actor, reason }, { actor: ctx.actor });
          out(io, `erased ${userId} (position ${res.position}): its data key is destroyed; personal fields about it now read [erased]`);
          const plain = await plaintextEventsOf(ctx, userId);
          if (plain)
            out(
              io,
              `warning: ${plain} event(s) about ${userId} were recorded before personal data was encrypted and still hold it in clear (docs/security/erasure.md)`,
            );
          return 0;
        });
      }
      case 'list': {
        const args = parseArgs(rest, { booleans: ['json'] });
        return withContext(rest, io, async (ctx) => {
          // Streams from the node's persisted read models: one row at a time, whatever the count.
          const { read, close } = await nodeReadModels(ctx);
          try {
            let n = 0;
            if (args.flags.has('json')) {
              // A JSON array written element by element (the old output's shape, without holding it).
              io.stdout.write('[');
              for (const u of read.users.each()) io.stdout.write(`${n++ ? ',' : ''}\n${JSON.stringify(u)}`);
              io.stdout.write(n ? '\n]\n' : ']\n');
              return 0;
            }
            const header = ['id', 'email', 'name', 'admin', 'status', 'created'];
            out(io, header.join('\t'));
            for (const u of read.users.each()) {
              out(io, [u.userId, u.email ?? '', u.name ?? '', u.admin ? 'yes' : '', status(u), u.createdAt].join('\t'));
              n++;
            }
            out(io, `${n} user(s)`);
            return 0;
          } finally {
            close();
          }
        });
      }
      default:
        throw new UsageError(sub ? `unknown subcommand ${sub}` : 'a subcommand is needed');
    }
  },
};
