import { MalformedNote } from './signed-note.js';

/**
 * C2SP tlog-checkpoint (https://github.com/C2SP/C2SP/blob/main/tlog-checkpoint.md): the body of a
 * signed note, three lines: the log's origin, the tree size in decimal, the root hash in base64;
 * optional extension lines follow (none written here).
 */
export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
}

export function formatCheckpoint(c: Checkpoint): string {
  return `${c.origin}\n${c.size}\n${c.root.toString('base64')}\n`;
}

export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split('\n');
  if (lines.length < 4 || lines[lines.length - 1] !== '')
    throw new MalformedNote('a checkpoint has an origin, a size and a root hash line');
  const [origin, size, root] = lines;
  // Decimal without leading zeros (the spec's form), and within what a JS number holds exactly.
  if (!origin || !/^(0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size)))
    throw new MalformedNote('bad checkpoint origin or size');
  const r = Buffer.from(root, 'base64');
  if (r.length !== 32 || r.toString('base64') !== root) throw new MalformedNote('bad checkpoint root hash');
  return { origin, size: Number(size), root: r };
}
