import { currentVersion, verifyLog, type RootClaim, isKnownEventType, type RecordedEvent } from '../../../core/index.js';
import { parseArgs } from '../args.js';
import type { CliCommand } from '../command.js';
import { nodeReadModels, openCliContext, resolveUser } from '../context.js';
import { UsageError, err, out, type CliIo } from '../io.js';
import { redactData, summarize } from '../event-summary.js';
import { renderTable } from '../table.js';
import { auditCheckpoint, auditConsistency, auditProve, readKeptCheckpoint } from './audit-tlog.js';

async function auditUser(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { booleans: ['json'] });
  if (args.positional.length !== 1) throw new UsageError('audit user takes one <id|email>');
  const ctx = await openCliContext(argv, io);
  try {
    const userId = await resolveUser(ctx.users, args.positional[0]);
    // The audit index (user -> positions) of the node's read models, caught up with the log; each
    // entry's full event is then read from the log by its position: no scan of the log.
    const { read, close } = await nodeReadModels(ctx);
    const timeline = read.audit.timeline(userId);
    const u = read.users.get(userId);
    close();
    const events = new Map<number, RecordedEvent>();
    for (const t of timeline) {
      const [e] = await ctx.store.readAll({ after: t.position - 1, limit: 1 });
      if (e && e.position === t.position) events.set(t.position, e);
    }
    const rows = timeline.map((t) => {
      const e = events.get(t.position);
      return {
        position: t.position,
        recordedAt: t.recordedAt,
        type: t.type,
        actor: t.actor,
        streamId: t.streamId,
        eventId: e?.id ?? null,
        data: e ? redactData(e.data) : null,
        summary: e ? summarize(e) : '',
      };
    });
    if (args.flags.has('json')) {
      out(io, JSON.stringify({ userId, events: rows }, null, 2));
      return 0;
    }
    out(
      io,
      `user ${userId}${u?.email ? ` <${u.email}>` : ''}${u?.banned ? ` banned: ${u.banned.reason}` : ''}${u?.disabled ? ' disabled' : ''}${u?.erased ? ' erased' : ''}`,
    );
    out(
      io,
      renderTable(
        ['position', 'time', 'type', 'actor', 'summary'],
        rows.map((r) => [String(r.position), r.recordedAt, r.type, r.actor, r.summary]),
      ),
    );
    return 0;
  } finally {
    await ctx.close();
  }
}

async function auditVerify(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { booleans: ['json'], values: ['checkpoint'] });
  if (args.positional.length) throw new UsageError(`unexpected argument ${args.positional[0]}`);
  const ctx = await openCliContext(argv, io);
  try {
    // Claims the log must still satisfy: the checkpoint an auditor kept (signed by this broker's
    // key, else refused) and the broker's own latest recorded one.
    const claims: RootClaim[] = [];
    const kept = args.flags.get('checkpoint');
    if (typeof kept === 'string') claims.push(readKeptCheckpoint(ctx, kept));
    const [latest] = ctx.store.tree ? await ctx.store.tree.checkpoints(1) : [];
    if (latest) claims.push({ label: `the latest recorded checkpoint (size ${latest.size})`, size: latest.size, root: latest.root });
    const streams = new Set<string>();
    const warnings: string[] = [];
    let unknown = 0;
    const r = await verifyLog(ctx.store, claims, (e) => {
      streams.add(e.streamId);
      // The hash covers the event as written, so an unknown type is still verified; it is only flagged.
      if (!isKnownEventType(e.type) || e.version > currentVersion(e.type)) {
        unknown++;
        if (warnings.length < 10)
          warnings.push(
            `warning: position ${e.position}: ${isKnownEventType(e.type) ? `unknown version ${e.version} of ${e.type}` : `unknown event type ${e.type}`} (stream ${e.streamId})`,
          );
      }
    });
    for (const w of warnings) err(io, w);
    if (unknown > warnings.length) err(io, `warning: ... ${unknown - warnings.length} more event(s) of unknown type or version`);
    const verifier = r.chain;
    const first = verifier.breaks[0];
    const tampered = r.firstPosition !== null;
    if (args.flags.has('json')) {
      out(
        io,
        JSON.stringify({
          checked: verifier.checked,
          streams: streams.size,
          unknown,
          breaks: verifier.breaks.length,
          firstBreak: first ?? null,
          tree: r.treeSize !== null,
          treeSize: r.treeSize,
          checkpoints: claims.map((c) => ({ label: c.label, size: c.size })),
          findings: r.findings,
          firstPosition: r.firstPosition,
        }),
      );
      return tampered ? 1 : 0;
    }
    if (tampered) {
      if (first)
        out(
          io,
          `TAMPERED: hash chain broken at stream ${first.streamId} revision ${first.revision} (position ${first.position}, event ${first.eventId}): ${first.problem.replace(/_/g, ' ')}`,
        );
      out(io, `${first ? '' : 'TAMPERED: '}first position affected: ${r.firstPosition}`);
      for (const f of r.findings.slice(0, 10)) out(io, `position ${f.position}: ${f.kind.replace(/_/g, ' ')}: ${f.detail}`);
      out(io, `${verifier.breaks.length} broken link(s), ${r.findings.length} tree/checkpoint finding(s) in ${verifier.checked} events`);
      return 1;
    }
    const tree =
      r.treeSize === null
        ? 'no transparency tree in this store'
        : `the Merkle tree (${r.treeSize} leaves) matches${claims.length ? ` and so do ${claims.map((c) => c.label).join(', ')}` : ''}`;
    out(
      io,
      `ok: ${verifier.checked} events in ${streams.size} streams verified, every hash chain intact${unknown ? ` (${unknown} of unknown type or version)` : ''}; ${tree}`,
    );
    return 0;
  } finally {
    await ctx.close();
  }
}

export const auditCommand: CliCommand = {
  name: 'audit',
  summary: "a user's timeline (audit user); verify the log, its Merkle tree and checkpoints (audit verify); checkpoints and proofs",
  usage: `broker audit user <id|email> [--json]
       broker audit verify [--checkpoint <kept-checkpoint-file>] [--json]
       broker audit checkpoint                  issue a signed checkpoint now and print it
       broker audit prove <position>            inclusion proof of one event against the latest checkpoint (JSON)
       broker audit consistency <old-checkpoint-file>   proof that the latest checkpoint extends a kept one (JSON)`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === 'user') return auditUser(rest, io);
    if (sub === 'verify') return auditVerify(rest, io);
    if (sub === 'checkpoint') return auditCheckpoint(rest, io);
    if (sub === 'prove') return auditProve(rest, io);
    if (sub === 'consistency') return auditConsistency(rest, io);
    throw new UsageError(sub ? `unknown subcommand ${sub}` : 'a subcommand is needed (user, verify, checkpoint, prove, consistency)');
  },
};
