import { createHash, timingSafeEqual } from 'node:crypto';
import { DomainError, WrongExpectedRevision, defineEvent, type Clock, type EventStore, type Ids, type RecordedEvent } from '../../core/index.js';

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

/**
 * The one-time setup URL (seed 000: the first admin is provisioned from a link shown at start).
 * Only the token's SHA-256 is recorded (`SetupTokenIssued`); the link works while it is the latest
 * issued and unexpired, and dies for good when `AdminBootstrapped` is appended, which is written
 * with the expected revision of the token's event: two browsers racing with the same link cannot
 * both become the first admin.
 */
export class SetupTokens {
  constructor(
    private readonly store: EventStore,
    private readonly clock: Clock,
    private readonly ids: Ids,
  ) {}

  private async history(): Promise<RecordedEvent[]> {
    return this.store.readStream(SETUP_STREAM);
  }

  async bootstrapped(): Promise<boolean> {
    return (await this.history()).some((e) => e.type === 'AdminBootstrapped');
  }

  /**
   * One setup link per cluster: a node that starts without an administrator reuses the pending
   * link another node issued (still valid for more than a minute) instead of voiding it. The
   * token is never in the log, only its hash, so this node cannot print that link: it gets who
   * issued it. Appended with the stream's expected revision: of two nodes starting at once, one
   * issues and the other finds its link.
   */
  async issueOnce(ttlSeconds: number, nodeId: string): Promise<{ token: string; expiresAt: string } | { pendingFrom: string | null; expiresAt: string }> {
    for (let tries = 0; ; tries++) {
      const history = await this.history();
      const last = history[history.length - 1];
      if (last?.type === 'SetupTokenIssued') {
        const d = last.data as { expiresAt: string; issuedBy?: string };
        if (Date.parse(d.expiresAt) - this.clock.now().getTime() > 60_000) return { pendingFrom: d.issuedBy ?? null, expiresAt: d.expiresAt };
      }
      const token = this.ids.token(32);
      const expiresAt = new Date(this.clock.now().getTime() + ttlSeconds * 1000).toISOString();
      try {
        await this.store.append(SETUP_STREAM, [{ type: 'SetupTokenIssued', data: { tokenHash: hashSetupToken(token), expiresAt, issuedBy: nodeId }, metadata: { actor: 'system' } }], {
          expectedRevision: last ? last.revision : 'no_stream',
        });
        return { token, expiresAt };
      } catch (err) {
        if (!(err instanceof WrongExpectedRevision) || tries >= 3) throw err;
      }
    }
  }

  /** The revision to claim against when `token` is usable now; throws SetupLinkRefused otherwise. */
  async check(token: string): Promise<{ revision: number; tokenHash: string }> {
    const history = await this.history();
    const h = Buffer.from(hashSetupToken(token), 'hex');
    const same = (e: RecordedEvent) => e.type === 'SetupTokenIssued' && timingSafeEqual(h, Buffer.from((e.data as { tokenHash: string }).tokenHash, 'hex'));
    const known = history.some(same);
    if (history.some((e) => e.type === 'AdminBootstrapped')) throw new SetupLinkRefused(known ? 'setup_token_reused' : 'setup_token_invalid');
    const last = history[history.length - 1];
    if (!last || !same(last)) throw new SetupLinkRefused('setup_token_invalid');
    if (Date.parse((last.data as { expiresAt: string }).expiresAt) <= this.clock.now().getTime()) throw new SetupLinkRefused('setup_token_expired');
    return { revision: last.revision, tokenHash: h.toString('hex') };
  }

  /** Uses the link up: appends `AdminBootstrapped` iff nothing was appended since the token. */
  async claim(token: string, userId: string): Promise<number> {
    const { revision } = await this.check(token);
    try {
      const res = await this.store.append(SETUP_STREAM, [{ type: 'AdminBootstrapped', data: { userId }, metadata: { actor: 'setup-link' } }], { expectedRevision: revision });
      return res.position;
    } catch (err) {
      if (err instanceof WrongExpectedRevision) throw new SetupLinkRefused('setup_token_reused');
      throw err;
    }
  }
}
