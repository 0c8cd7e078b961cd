import type { Clock } from '../../plugin/index.js';

/** `register` (account page), `login` (passkey alone), `step` (second factor), `enrol` (a policy's enrolment during a login). */
export type ChallengePurpose = 'register' | 'login' | 'step' | 'enrol';

export interface PendingChallenge {
  purpose: ChallengePurpose;
  /** The browser flow it was issued to (a SameSite=Strict cookie): a challenge answered from another browser is refused. */
  flow: string;
  /** For `register`, `step`, `enrol`: the user it is for. For `login`: the login request token to resume. */
  userId?: string;
  lr?: string;
  /** For `step` and `enrol`: the step ticket's id, so a challenge answers the ticket it was issued for. */
  ticket?: string;
  expiresAt: number;
}

/**
 * WebAuthn challenges (§13.4.3): random, single use, short-lived, bound to one browser flow. Kept
 * in this node's memory and bounded: a ceremony starts and ends on one node (the options and the
 * answer come a second apart; a load balancer with affinity, or a retry, is enough). A replayed
 * assertion fails here (consumed) and, for counting authenticators, at the counter.
 */
export class Challenges {
  private readonly pending = new Map<string, PendingChallenge>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = 120_000,
    private readonly max = 10_000,
  ) {}

  issue(challenge: string, c: Omit<PendingChallenge, 'expiresAt'>): void {
    const now = this.clock.now().getTime();
    if (this.pending.size >= this.max) this.sweep(now);
    if (this.pending.size >= this.max) this.pending.delete(this.pending.keys().next().value as string); // oldest first
    this.pending.set(challenge, { ...c, expiresAt: now + this.ttlMs });
  }

  /** The challenge's context, once: a second call (a replay) or an expired one gives undefined. */
  consume(challenge: string, purpose: ChallengePurpose, flow: string): PendingChallenge | undefined {
    const c = this.pending.get(challenge);
    if (!c) return undefined;
    this.pending.delete(challenge);
    if (c.purpose !== purpose || c.flow !== flow || c.expiresAt <= this.clock.now().getTime()) return undefined;
    return c;
  }

  get size(): number {
    return this.pending.size;
  }

  private sweep(now: number): void {
    for (const [k, c] of this.pending) if (c.expiresAt <= now) this.pending.delete(k);
  }
}
