import { createHash, timingSafeEqual } from 'node:crypto';
import {
  CommandHandler,
  DomainError,
  defineEvent,
  foldStream,
  type Clock,
  type Decider,
  type EventOf,
  type EventStore,
  type Ids,
} from '../../plugin/index.js';

/** One stream holds the first-run story: every `SetupTokenIssued`, then `AdminBootstrapped`. */
export const SETUP_STREAM = 'admin-setup';

// Typed in the core catalog; this plugin's events (its first-run story), validated on append.
defineEvent('SetupTokenIssued', 1, {}, { fields: { tokenHash: 'string', expiresAt: 'string', issuedBy: 'string?' } });
defineEvent('AdminBootstrapped', 1, {}, { fields: { userId: 'string' } });

export const hashSetupToken = (token: string): string => createHash('sha256').update(`setup-token.v1.${token}`).digest('hex');

export class SetupLinkRefused extends DomainError {
  constructor(readonly reason: 'setup_token_reused' | 'setup_token_expired' | 'setup_token_invalid') {
    super(
      reason === 'setup_token_expired' ? 'expired' : reason === 'setup_token_reused' ? 'replayed' : 'not_found',
      reason === 'setup_token_reused'
        ? 'This setup link was already used. The broker has an administrator; log in instead.'
        : reason === 'setup_token_expired'
          ? 'This setup link has expired. Restart the broker to get a new one.'
          : 'This setup link is not valid. Use the newest link the broker printed at start.',
    );
  }
}

type SetupEvent = EventOf<'SetupTokenIssued'> | EventOf<'AdminBootstrapped'>;

export interface SetupState {
  /** Hashes of every token issued, oldest first. */
  issued: string[];
  /** The last event was this token (nothing appended since): the only usable one. */
  latest: { tokenHash: string; expiresAt: string; issuedBy: string | null } | null;
  bootstrapped: boolean;
}

export type SetupCommand =
  | { type: 'issue'; tokenHash: string; expiresAt: string; issuedBy: string; now: number }
  | { type: 'claim'; tokenHash: string; userId: string; now: number };

/** Another node's link is pending (valid for more than a minute): use it instead of voiding it. */
export class SetupLinkPending extends DomainError {
  constructor(
    readonly pendingFrom: string | null,
    readonly expiresAt: string,
  ) {
    super('conflict', 'a setup link is pending');
  }
}

const sameHash = (a: string, b: string): boolean => timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));

/** Why `tokenHash` cannot be used now, or nothing: the link works while it is the latest issued and unexpired. */
export function checkSetupToken(s: SetupState, tokenHash: string, now: number): void {
  const known = s.issued.some((h) => sameHash(h, tokenHash));
  if (s.bootstrapped) throw new SetupLinkRefused(known ? 'setup_token_reused' : 'setup_token_invalid');
  if (!s.latest || !sameHash(s.latest.tokenHash, tokenHash)) throw new SetupLinkRefused('setup_token_invalid');
  if (Date.parse(s.latest.expiresAt) <= now) throw new SetupLinkRefused('setup_token_expired');
}

/**
 * The first-run story (stream `admin-setup`) as a Decider: links issued one after the other, then
 * the first admin, once. Run by the CommandHandler: two browsers racing with one link both decide
 * on the same stream, one append wins, the other is decided again and finds the link used.
 */
export const setupDecider: Decider<SetupCommand, SetupState, SetupEvent> = {
  initialState: () => ({ issued: [], latest: null, bootstrapped: false }),
  evolve: (s, e) => {
    if (e.type === 'SetupTokenIssued')
      return {
        ...s,
        issued: [...s.issued, e.data.tokenHash],
        latest: { tokenHash: e.data.tokenHash, expiresAt: e.data.expiresAt, issuedBy: e.data.issuedBy ?? null },
      };
    if (e.type === 'AdminBootstrapped') return { ...s, latest: null, bootstrapped: true };
    return s;
  },
  decide: (c, s) => {
    if (c.type === 'issue') {
      // One setup link per cluster: a pending link another node issued is reused, not voided.
      if (s.latest && Date.parse(s.latest.expiresAt) - c.now > 60_000) throw new SetupLinkPending(s.latest.issuedBy, s.latest.expiresAt);
      return [{ type: 'SetupTokenIssued', data: { tokenHash: c.tokenHash, expiresAt: c.expiresAt, issuedBy: c.issuedBy } }];
    }
    checkSetupToken(s, c.tokenHash, c.now);
    return [{ type: 'AdminBootstrapped', data: { userId: c.userId } }];
  },
};

/**
 * The one-time setup URL (seed 000: the first admin is provisioned from a link shown at start).
 * Only the token's SHA-256 is recorded (`SetupTokenIssued`); the link works while it is the latest
 * issued and unexpired, and dies for good when `AdminBootstrapped` is appended (setupDecider).
 */
export class SetupTokens {
  private readonly commands: CommandHandler;
  constructor(
    private readonly store: EventStore,
    private readonly clock: Clock,
    private readonly ids: Ids,
  ) {
    this.commands = new CommandHandler(store);
  }

  private async state(): Promise<SetupState> {
    return foldStream(setupDecider, await this.store.readStream(SETUP_STREAM));
  }

  async bootstrapped(): Promise<boolean> {
    return (await this.state()).bootstrapped;
  }

  /**
   * One setup link per cluster: a node that starts without an administrator reuses the pending
   * link another node issued (still valid for more than a minute) instead of voiding it. The
   * token is never in the log, only its hash, so this node cannot print that link: it gets who
   * issued it. Of two nodes starting at once, one issues and the other finds its link.
   */
  async issueOnce(
    ttlSeconds: number,
    nodeId: string,
  ): Promise<{ token: string; expiresAt: string } | { pendingFrom: string | null; expiresAt: string }> {
    const token = this.ids.token(32);
    const now = this.clock.now().getTime();
    const expiresAt = new Date(now + ttlSeconds * 1000).toISOString();
    try {
      await this.commands.handle(
        setupDecider,
        SETUP_STREAM,
        { type: 'issue', tokenHash: hashSetupToken(token), expiresAt, issuedBy: nodeId, now },
        { actor: 'system' },
      );
      return { token, expiresAt };
    } catch (err) {
      if (err instanceof SetupLinkPending) return { pendingFrom: err.pendingFrom, expiresAt: err.expiresAt };
      throw err;
    }
  }

  /** Throws SetupLinkRefused unless `token` is usable now. */
  async check(token: string): Promise<{ tokenHash: string }> {
    const tokenHash = hashSetupToken(token);
    checkSetupToken(await this.state(), tokenHash, this.clock.now().getTime());
    return { tokenHash };
  }

  /** Uses the link up: records `AdminBootstrapped` iff nothing was appended since the token. */
  async claim(token: string, userId: string): Promise<number> {
    const res = await this.commands.handle(
      setupDecider,
      SETUP_STREAM,
      { type: 'claim', tokenHash: hashSetupToken(token), userId, now: this.clock.now().getTime() },
      { actor: 'setup-link' },
    );
    return res.position;
  }
}
