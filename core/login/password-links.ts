import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { defineEvent } from '../events/schema-versions.js';
import { declareSecretFields } from '../events/secret-fields.js';
import type { RecordedEvent } from '../events/envelope.js';

import type { Clock } from '../ids.js';
import { WrongExpectedRevision, type EventStore } from '../ports/event-store.js';

/**
 * One-time links that let a person set a password: an invitation (an account made for them by an
 * operator, from the CLI or the console) or a reset (they forgot it: password-login's page). The link carries `<userId>.<32 random bytes>`; the log keeps
 * only the SHA-256 of the secret, on the user's stream `pwlink-<userId>`, with its expiry. Using a
 * link appends `PasswordLinkUsed` at the revision it was read at, so it works once across nodes.
 */
declare module '../events/catalog.js' {
  interface EventMap {
    PasswordLinkIssued: { userId: string; purpose: LinkPurpose; tokenHash: string; expiresAt: string; by: string };
    PasswordLinkUsed: { userId: string; tokenHash: string; purpose: LinkPurpose };
  }
}
defineEvent('PasswordLinkIssued', 1);
defineEvent('PasswordLinkUsed', 1);
declareSecretFields('PasswordLinkIssued', ['tokenHash']);
declareSecretFields('PasswordLinkUsed', ['tokenHash']);

export type LinkPurpose = 'invite' | 'reset';
export const LINK_TTL_SECONDS: Record<LinkPurpose, number> = { invite: 7 * 24 * 3600, reset: 30 * 60 };
/** At most this many reset links per account per hour (a mail bomb is the abuse it stops). */
export const RESETS_PER_HOUR = 3;

const linkStream = (userId: string): string => `pwlink-${userId}`;
const hash = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export class LinkInvalid extends Error {
  override name = 'LinkInvalid';
}

interface Issued {
  tokenHash: string;
  purpose: LinkPurpose;
  expiresAt: number;
  at: number;
  used: boolean;
}

function fold(events: RecordedEvent[]): { links: Issued[]; revision: number } {
  const links: Issued[] = [];
  let revision = -1;
  for (const e of events) {
    revision = e.revision;
    if (e.type === 'PasswordLinkIssued') {
      const d = e.data as { tokenHash: string; purpose: LinkPurpose; expiresAt: string };
      // Issued at = expiry - its time to live: on the issuer's clock, like the expiry itself.
      const expiresAt = Date.parse(d.expiresAt);
      links.push({
        tokenHash: d.tokenHash,
        purpose: d.purpose,
        expiresAt,
        at: expiresAt - LINK_TTL_SECONDS[d.purpose] * 1000,
        used: false,
      });
    } else if (e.type === 'PasswordLinkUsed') {
      const l = links.find((x) => x.tokenHash === (e.data as { tokenHash: string }).tokenHash);
      if (l) l.used = true;
    }
  }
  return { links, revision };
}

export class PasswordLinks {
  constructor(
    private readonly store: EventStore,
    private readonly clock: Clock,
  ) {}

  /** Issues a link; returns its token (to put in a URL) and expiry. Throws RateLimited past the reset budget. */
  async issue(userId: string, purpose: LinkPurpose, by: string): Promise<{ token: string; expiresAt: Date } | null> {
    // At the revision read, retried on a race: concurrent requests cannot all pass the hourly budget.
    for (let attempt = 0; ; attempt++) {
      const now = this.clock.now();
      const { links, revision } = fold(await this.store.readStream(linkStream(userId)));
      if (purpose === 'reset' && links.filter((l) => l.purpose === 'reset' && l.at > now.getTime() - 3600_000).length >= RESETS_PER_HOUR)
        return null;
      const secret = randomBytes(32).toString('base64url');
      const expiresAt = new Date(now.getTime() + LINK_TTL_SECONDS[purpose] * 1000);
      try {
        await this.store.append(
          linkStream(userId),
          [
            {
              type: 'PasswordLinkIssued',
              data: { userId, purpose, tokenHash: hash(secret), expiresAt: expiresAt.toISOString(), by },
              metadata: { actor: by },
            },
          ],
          { expectedRevision: revision === -1 ? 'no_stream' : revision },
        );
        return { token: `${userId}.${secret}`, expiresAt };
      } catch (err) {
        if (!(err instanceof WrongExpectedRevision) || attempt >= 20) throw err;
      }
    }
  }

  /** The link's user and purpose when it is valid now (unused, unexpired); throws LinkInvalid otherwise. */
  async check(token: string): Promise<{ userId: string; purpose: LinkPurpose; tokenHash: string; revision: number }> {
    const m = /^([\w-]{1,64})\.([\w-]{43})$/.exec(token);
    if (!m) throw new LinkInvalid('malformed');
    const [, userId, secret] = m;
    const h = hash(secret);
    const { links, revision } = fold(await this.store.readStream(linkStream(userId)));
    const l = links.find((x) => timingSafeEqual(Buffer.from(x.tokenHash), Buffer.from(h)));
    if (!l) throw new LinkInvalid('unknown');
    if (l.used) throw new LinkInvalid('used');
    if (l.expiresAt <= this.clock.now().getTime()) throw new LinkInvalid('expired');
    return { userId, purpose: l.purpose, tokenHash: h, revision };
  }

  /** Spends the link: once, across nodes (a second use loses the expected-revision race). */
  async consume(link: { userId: string; purpose: LinkPurpose; tokenHash: string; revision: number }): Promise<void> {
    try {
      await this.store.append(
        linkStream(link.userId),
        [
          {
            type: 'PasswordLinkUsed',
            data: { userId: link.userId, tokenHash: link.tokenHash, purpose: link.purpose },
            metadata: { actor: `user:${link.userId}` },
          },
        ],
        { expectedRevision: link.revision },
      );
    } catch (err) {
      if (err instanceof WrongExpectedRevision) throw new LinkInvalid('used');
      throw err;
    }
  }
}

export const linkUrl = (baseUrl: string, token: string): string =>
  `${baseUrl.replace(/\/$/, '')}/password/set?token=${encodeURIComponent(token)}`;

export function linkMail(purpose: LinkPurpose, url: string, expiresAt: Date): { subject: string; text: string } {
  return purpose === 'invite'
    ? {
        subject: 'You are invited: set your password',
        text: `An account was made for you.\n\nSet your password here (the link works once, until ${expiresAt.toISOString()}):\n\n${url}\n`,
      }
    : {
        subject: 'Reset your password',
        text: `Someone (hopefully you) asked to reset the password of this account.\n\nSet a new one here (the link works once, for 30 minutes):\n\n${url}\n\nIf it was not you, ignore this mail: your password stays as it is.\n`,
      };
}
