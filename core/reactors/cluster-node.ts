import type { BusyLease } from './busy-lease.js';

export type DuplicateKind = 'concurrent' | 'after_expired_takeover';

/**
 * This broker node as the cluster sees it: its id (`cluster.nodeId`), the reactor leases it takes
 * part in, and the duplicate side effects its reactors counted. Read by /metrics at scrape time,
 * so the core holds plain numbers and knows nothing of the exposition format.
 */
export class ClusterNode {
  private readonly leases: { reactor: string; lease: BusyLease }[] = [];
  private readonly duplicates = new Map<string, { reactor: string; kind: DuplicateKind; count: number }>();

  constructor(readonly nodeId: string) {}

  trackLease(reactor: string, lease: BusyLease): void {
    this.leases.push({ reactor, lease });
  }

  /**
   * A side effect that was, or may have been, done twice: `concurrent` when two nodes' outcomes
   * for one attempt met in the log (both sent); `after_expired_takeover` when this node repeated
   * work its crashed or stalled predecessor may already have done (an upper bound).
   */
  countDuplicate(reactor: string, kind: DuplicateKind, by = 1): void {
    const key = `${reactor}\n${kind}`;
    const d = this.duplicates.get(key);
    if (d) d.count += by;
    else this.duplicates.set(key, { reactor, kind, count: by });
  }

  leaseStatus(): { reactor: string; held: boolean; takeovers: { free: number; expired: number } }[] {
    return this.leases.map(({ reactor, lease }) => ({ reactor, held: lease.isHeld(), takeovers: lease.takeovers }));
  }

  duplicateCounts(): { reactor: string; kind: DuplicateKind; count: number }[] {
    return [...this.duplicates.values()];
  }
}
