import fs from 'node:fs';
import {
  MalformedNote,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  proveConsistency,
  proveInclusion,
  systemClock,
  treeRoot,
  type Logger,
  type RootClaim,
  type TransparencyTree,
} from '../../../core/index.js';
import { parseArgs } from '../args.js';
import { openCliContext, type CliContext } from '../context.js';
import { CommandFailed, UsageError, out, type CliIo } from '../io.js';
import { Keys, loadMasterKey } from '../../kernel/master-key.js';
import { checkpointSigner } from '../../tlog/checkpoint-key.js';
import { CheckpointIssuer } from '../../tlog/checkpoint-issuer.js';

const quiet: Logger = { info() {}, warn() {}, error() {}, debug() {}, child: () => quiet };

/** The broker's checkpoint signer, from the same master key (or key file) the server uses. */
export function cliSigner(ctx: CliContext) {
  return checkpointSigner(ctx.config, new Keys(loadMasterKey(ctx.config.secrets.masterKey, ctx.config.dataDir)));
}

function treeOf(ctx: CliContext): TransparencyTree {
  if (!ctx.store.tree) throw new CommandFailed(`the ${ctx.store.kind} store keeps no transparency tree (SQLite and PostgreSQL do)`);
  return ctx.store.tree;
}

/**
 * A checkpoint file an auditor kept (the signed note as published). Its signature must be the
 * broker's: a claim anyone could write proves nothing.
 */
export function readKeptCheckpoint(ctx: CliContext, file: string, label = `checkpoint file ${file}`): RootClaim & { note: string } {
  let note: string;
  try {
    note = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const signer = cliSigner(ctx);
  let text: string | null;
  try {
    text = openNote(note, parseVerifierKey(signer.verifierKey));
  } catch (err) {
    if (err instanceof MalformedNote) throw new UsageError(`${file} is not a signed checkpoint (${err.message})`);
    throw err;
  }
  if (!text) throw new CommandFailed(`${file} is not signed by this broker's checkpoint key (${signer.verifierKey})`);
  const cp = parseCheckpoint(text);
  if (cp.origin !== signer.name) throw new CommandFailed(`${file} is a checkpoint of ${cp.origin}, not ${signer.name}`);
  return { label, size: cp.size, root: cp.root, note };
}

/** `audit checkpoint`: issue one now (on demand) and print the signed note. */
export async function auditCheckpoint(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv);
  if (args.positional.length) throw new UsageError(`unexpected argument ${args.positional[0]}`);
  const ctx = await openCliContext(argv, io);
  try {
    const issuer = new CheckpointIssuer(
      treeOf(ctx),
      cliSigner(ctx),
      systemClock,
      { everyEvents: 1, everySeconds: 1, witnesses: [] },
      quiet,
    );
    const cp = await issuer.issue();
    if (!cp) throw new CommandFailed('the log is empty: nothing to checkpoint');
    io.stdout.write(cp.note);
    return 0;
  } finally {
    await ctx.close();
  }
}

/** `audit prove <position>`: an inclusion proof of one event against the latest checkpoint. */
export async function auditProve(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv);
  if (args.positional.length !== 1 || !/^[1-9][0-9]{0,15}$/.test(args.positional[0]))
    throw new UsageError('audit prove takes one <position> (a positive integer)');
  const position = Number(args.positional[0]);
  const ctx = await openCliContext(argv, io);
  try {
    const tree = treeOf(ctx);
    const [cp] = await tree.checkpoints(1);
    if (!cp) throw new CommandFailed('no checkpoint yet: run `broker audit checkpoint` first');
    const leaf = await tree.leafAtPosition(position);
    if (!leaf) throw new CommandFailed(`no event at position ${position} in the tree`);
    if (leaf.index >= cp.size)
      throw new CommandFailed(
        `position ${position} is after the latest checkpoint (size ${cp.size}): issue a new one with \`broker audit checkpoint\``,
      );
    const [e] = await ctx.store.readAll({ after: position - 1, limit: 1 });
    const proof = await proveInclusion(tree, leaf.index, cp.size);
    out(
      io,
      JSON.stringify(
        {
          kind: 'inclusion',
          checkpoint: cp.note,
          position,
          leafIndex: leaf.index,
          eventHash: e && e.position === position ? e.hash : null,
          proof: proof.map((h) => h.toString('base64')),
        },
        null,
        2,
      ),
    );
    return 0;
  } finally {
    await ctx.close();
  }
}

/** `audit consistency <old-checkpoint>`: proves the latest checkpoint extends a kept one. */
export async function auditConsistency(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv);
  if (args.positional.length !== 1) throw new UsageError('audit consistency takes one <old-checkpoint> file');
  const ctx = await openCliContext(argv, io);
  try {
    const tree = treeOf(ctx);
    const old = readKeptCheckpoint(ctx, args.positional[0]);
    const [cp] = await tree.checkpoints(1);
    if (!cp) throw new CommandFailed('no checkpoint yet: run `broker audit checkpoint` first');
    if (old.size > cp.size)
      throw new CommandFailed(
        `the kept checkpoint (size ${old.size}) is ahead of the latest (size ${cp.size}): the log was truncated, or issue a new checkpoint`,
      );
    const oldRoot = await treeRoot(tree, old.size);
    const proof = old.size < cp.size ? await proveConsistency(tree, old.size, cp.size) : [];
    out(
      io,
      JSON.stringify(
        { kind: 'consistency', oldCheckpoint: old.note, checkpoint: cp.note, proof: proof.map((h) => h.toString('base64')) },
        null,
        2,
      ),
    );
    // The broker checks its own proof: a tree that no longer has the old root cannot prove anything.
    if (!oldRoot.equals(old.root)) {
      io.stderr.write(
        `TAMPERED: the log's tree no longer has the root of ${args.positional[0]} at size ${old.size}; run \`broker audit verify --checkpoint ${args.positional[0]}\`\n`,
      );
      return 1;
    }
    return 0;
  } finally {
    await ctx.close();
  }
}
