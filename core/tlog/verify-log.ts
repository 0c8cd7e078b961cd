import { ChainVerifier } from '../events/hash-chain.js';
import type { RecordedEvent } from '../events/envelope.js';
import { storedEvents, type EventStore } from '../ports/event-store.js';
import { LogAuditor, type RootClaim, type TamperFinding } from './log-audit.js';
import { treeRoot } from './tree-reads.js';
import type { TreeLeaf } from './tree-port.js';

export interface LogVerification {
  checked: number;
  /** Hash-chain breaks (per stream), as before the tree. */
  chain: ChainVerifier;
  /** Findings of the tree and checkpoint comparison, first position first. */
  findings: TamperFinding[];
  treeSize: number | null;
  /** The first position affected by anything found, or null when the log is intact. */
  firstPosition: number | null;
}

/**
 * `audit verify`: every event once, in position order, through the hash-chain verifier and, when
 * the store keeps a tree, against its leaves and the given checkpoints (claims). A checkpoint is
 * also checked against the stored tree's own root, so a tree rewritten together with the log is
 * caught even though the two agree.
 */
export async function verifyLog(given: EventStore, claims: RootClaim[], onEvent?: (e: RecordedEvent) => void): Promise<LogVerification> {
  // The hashes and the tree cover the events as stored (personal fields sealed), not as opened.
  const store = storedEvents(given);
  const chain = new ChainVerifier();
  const tree = store.tree;
  const treeSize = tree ? await tree.size() : null;
  const auditor = new LogAuditor(tree ? claims : [], store.kind === 'sqlite');
  const pageSize = 5000;
  let leaves: TreeLeaf[] = [];
  let leafAt = 0;
  let nextLeaf = 0;
  const leaf = async (): Promise<TreeLeaf | undefined> => {
    if (!tree) return undefined;
    if (leafAt >= leaves.length) {
      leaves = await tree.leaves(nextLeaf, pageSize);
      leafAt = 0;
      if (!leaves.length) return undefined;
      nextLeaf = leaves[leaves.length - 1].index + 1;
    }
    return leaves[leafAt++];
  };
  let after = 0;
  // PostgreSQL shows a committed row only once every older transaction in the cluster has ended,
  // so right after a write the readable log can lag the tree: a short read below the tree's size
  // is read again for a bounded time before the missing tail is called a truncation.
  const lagDeadline = Date.now() + 5000;
  for (;;) {
    const page = await store.readAll({ after, limit: pageSize });
    for (const e of page) {
      chain.check(e);
      if (tree) auditor.check(e, await leaf());
      onEvent?.(e);
      after = e.position;
    }
    if (page.length === pageSize) continue;
    const lagging = treeSize !== null && chain.checked < treeSize && store.kind !== 'sqlite' && Date.now() < lagDeadline;
    if (!lagging) break;
    if (!page.length) await new Promise((r) => setTimeout(r, 50));
  }
  const extra: TamperFinding[] = [];
  if (tree && treeSize !== null) {
    const leftover = await leaf();
    auditor.finish(leftover);
    // The stored tree against the claims: a tree rewritten along with the log disagrees here.
    for (const c of claims) {
      if (c.size > treeSize) continue;
      let root: Buffer | null = null;
      try {
        root = await treeRoot(tree, c.size);
      } catch {
        root = null;
      }
      if (!root || !root.equals(c.root))
        extra.push({
          kind: 'checkpoint_mismatch',
          position: auditor.findings[0]?.position ?? 1,
          detail: `the stored tree's root at size ${c.size} is not the root of ${c.label} (the tree was rewritten)`,
        });
    }
  }
  const findings = [...auditor.findings, ...extra].sort((a, b) => a.position - b.position);
  const positions = [...findings.map((f) => f.position), ...chain.breaks.map((b) => b.position)];
  return { checked: chain.checked, chain, findings, treeSize, firstPosition: positions.length ? Math.min(...positions) : null };
}
