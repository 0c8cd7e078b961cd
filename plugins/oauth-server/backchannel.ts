import { createHash } from 'node:crypto';
import type { Subscription } from 'rxjs';
import {
  CommandHandler,
  type Clock,
  type EventStore,
  type Ids,
  type KnownEvent,
  type Logger,
  type ProjectionEngine,
  type Reactor,
  type ReactorContext,
  type RecordedEvent,
} from '../../plugin/index.js';
import type { SigningKeys } from '../../adapters/crypto/signing-keys.js';
import type { ClientRegistry } from './clients.js';
import type { OAuthGrantsView } from './grants-view.js';
import { NoticeRefused, noticeDecider } from './logout-notice.js';

export const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/**
 * OIDC Back-Channel Logout 1.0: when a broker session ends (logout, RP logout, a login over it)
 * or its user is banned, disabled or logged out everywhere (`CredentialsRevoked`), every client
 * with a `backchannelLogoutUri` that holds a grant for that session (or a grant of that user whose
 * refresh chain had not yet expired) receives a logout token. The events of one operation (a ban
 * ends each session, revokes the credentials, then bans) share a correlation id, and the claim is
 * keyed by it: a client hears once per session, not once per event. Best effort with retries (3 attempts, 0.5 s and 2 s
 * apart, 5 s timeout each). Each notification is first claimed with a `no_stream` append, so
 * several nodes never send it twice; the outcome is recorded as an event. The reactor starts at
 * the head of the log: ends that happened while no node was running are not notified.
 */
export class BackChannelLogout implements Reactor {
  readonly name = 'oauth-server.backchannel-logout';
  private sub: Subscription | null = null;
  private readonly inflight = new Set<Promise<void>>();
  delays = [0, 500, 2000];

  constructor(
    private readonly d: {
      store: EventStore;
      projections: ProjectionEngine;
      grants: OAuthGrantsView;
      clients: ClientRegistry;
      keys: SigningKeys;
      clock: Clock;
      ids: Ids;
      issuer: string;
      logger: Logger;
    },
  ) {}

  async start(ctx: ReactorContext): Promise<void> {
    const head = await this.d.store.headPosition();
    this.sub = ctx.subscribe(head).subscribe({ next: (e) => this.track(this.handle(e)) });
  }

  async stop(): Promise<void> {
    this.sub?.unsubscribe();
    this.sub = null;
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => setTimeout(r, 3000).unref())]);
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p
      .catch((err: unknown) => this.d.logger.warn({ err: String(err) }, 'back-channel logout failed'))
      .finally(() => this.inflight.delete(p));
  }

  private async handle(raw: RecordedEvent): Promise<void> {
    const e = raw as KnownEvent;
    let targets: { clientId: string; userId: string; sessionId: string | null }[] = [];
    if (e.type !== 'SessionEnded' && e.type !== 'UserBanned' && e.type !== 'AccountDisabled' && e.type !== 'CredentialsRevoked') return;
    await this.d.projections.waitFor(raw.position, 10_000);
    const now = this.d.clock.now().getTime();
    const gs =
      e.type === 'SessionEnded'
        ? this.d.grants.grantsOfSession(e.data.sessionId)
        : this.d.grants.grantsOfUser(e.data.userId).filter((g) => g.expiresAt > now);
    const seen = new Set<string>();
    for (const g of gs) {
      const key = `${g.clientId} ${g.sessionId ?? ''}`;
      if (seen.has(key) || !this.d.clients.get(g.clientId)?.backchannelLogoutUri) continue;
      seen.add(key);
      targets.push({ clientId: g.clientId, userId: g.userId, sessionId: g.sessionId });
    }
    targets = targets.slice(0, 1000);
    await Promise.all(targets.map((t) => this.notify(raw, t)));
  }

  private async notify(cause: RecordedEvent, t: { clientId: string; userId: string; sessionId: string | null }): Promise<void> {
    const client = this.d.clients.get(t.clientId)!;
    const stream = `oauth-bcl-${createHash('sha256')
      .update(`${cause.metadata.correlationId ?? cause.id}|${t.clientId}|${t.sessionId ?? ''}`)
      .digest('base64url')
      .slice(0, 32)}`;
    const commands = new CommandHandler(this.d.store);
    const meta = { actor: 'system', causationId: cause.id };
    try {
      await commands.handle(
        noticeDecider,
        stream,
        { type: 'claim', notice: { clientId: t.clientId, userId: t.userId, sessionId: t.sessionId, cause: cause.type } },
        meta,
      );
    } catch (err) {
      if (err instanceof NoticeRefused) return; // another node is sending it
      throw err;
    }
    const iat = Math.floor(this.d.clock.now().getTime() / 1000);
    // §2.4: iss, aud, iat, exp, jti, events, sub and/or sid; never a nonce. typ per §2.4 / RFC 8725 §3.11.
    const payload: Record<string, unknown> = {
      iss: this.d.issuer,
      aud: t.clientId,
      iat,
      exp: iat + 120,
      jti: this.d.ids.token(16),
      sub: t.userId,
      events: { [BACKCHANNEL_EVENT]: {} },
    };
    if (t.sessionId) payload.sid = t.sessionId;
    const token = this.d.keys.signSync(payload, { typ: 'logout+jwt' });
    let error = '';
    let attempts = 0;
    for (const delay of this.delays) {
      if (delay) await new Promise((r) => setTimeout(r, delay));
      attempts++;
      try {
        const res = await fetch(client.backchannelLogoutUri!, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ logout_token: token }).toString(),
          signal: AbortSignal.timeout(5000),
          redirect: 'manual',
        });
        if (res.status === 200 || res.status === 204) {
          await commands.handle(
            noticeDecider,
            stream,
            { type: 'finish', outcome: { type: 'BackChannelLogoutDelivered', data: { clientId: t.clientId, attempts } } },
            meta,
          );
          return;
        }
        error = `HTTP ${res.status}`;
      } catch (err) {
        error = (err as Error).name === 'TimeoutError' ? 'timeout' : 'network error';
      }
    }
    await commands.handle(
      noticeDecider,
      stream,
      { type: 'finish', outcome: { type: 'BackChannelLogoutFailed', data: { clientId: t.clientId, attempts, error } } },
      meta,
    );
  }
}
