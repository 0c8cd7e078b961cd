import {
  entryOf,
  leafHash,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  treeRoot,
  type EventStore,
  type NoteSigner,
  type StoredCheckpoint,
} from '../../core/index.js';

/** The log contradicts the broker's own latest checkpoint: the start stops (exit code 1). */
export class LogContradictsCheckpoint extends Error {
  override readonly name = 'LogContradictsCheckpoint';
  constructor(
    readonly checkpoint: StoredCheckpoint,
    readonly problem: string,
  ) {
    super(
      `the event log contradicts its latest signed checkpoint (size ${checkpoint.size}): ${problem}. ` +
        'Run `broker audit verify` to find the first position affected; to start anyway (recorded in the log), ' +
        'start with --accept-log-contradiction',
    );
  }
}

/** How many of the newest leaves are compared with the log at each start (the tail is what a truncation or a recent rewrite touches). */
const TAIL = 1000;

/**
 * The start check: the latest recorded checkpoint must carry the broker's own signature, the stored
 * tree must still have its root at its size, and the newest leaves must still be the log's events.
 * O(log n) node reads plus the tail: a start does not re-read the whole log (`audit verify` does).
 * Returns the problem, or null when the log agrees (or has no checkpoint yet).
 */
export async function checkLogAgainstCheckpoint(
  store: EventStore,
  signer: NoteSigner,
): Promise<{ checkpoint: StoredCheckpoint; problem: string } | null> {
  const tree = store.tree;
  if (!tree) return null;
  const [cp] = await tree.checkpoints(1);
  if (!cp) return null;
  const text = openNote(cp.note, parseVerifierKey(signer.verifierKey));
  if (!text) return { checkpoint: cp, problem: 'the recorded checkpoint does not carry the broker key signature' };
  const body = parseCheckpoint(text);
  if (body.size !== cp.size || !body.root.equals(cp.root))
    return { checkpoint: cp, problem: 'the recorded checkpoint row differs from its signed note' };
  const size = await tree.size();
  if (size < cp.size) return { checkpoint: cp, problem: `the tree holds ${size} events, the checkpoint ${cp.size} (truncated)` };
  let root: Buffer;
  try {
    root = await treeRoot(tree, cp.size);
  } catch (err) {
    return { checkpoint: cp, problem: `the tree is incomplete (${(err as Error).message})` };
  }
  if (!root.equals(cp.root))
    return { checkpoint: cp, problem: "the tree's root at the checkpoint's size differs (the tree was rewritten)" };
  const leaves = await tree.leaves(Math.max(0, size - TAIL), TAIL);
  if (!leaves.length) return null;
  const events = await store.readAll({ after: leaves[0].position - 1, limit: leaves.length + TAIL });
  const byPosition = new Map(events.map((e) => [e.position, e]));
  for (const l of leaves) {
    const e = byPosition.get(l.position);
    if (!e) return { checkpoint: cp, problem: `the event at position ${l.position} is gone (deleted or truncated)` };
    if (!leafHash(entryOf(e.hash)).equals(l.hash))
      return { checkpoint: cp, problem: `the event at position ${l.position} is not the one appended there` };
  }
  return null;
}
