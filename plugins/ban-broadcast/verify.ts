import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * A dependency-free verifier for the ban webhooks, for downstream sites (copy this file, or use
 * the `standardwebhooks` package: both accept exactly the same deliveries). Checks, per the
 * Standard Webhooks spec: the timestamp is within `toleranceSeconds` of now (replay window), and
 * one of the space-separated `v1,` signatures matches HMAC-SHA256("id.timestamp.body"), compared
 * in constant time. De-duplicate on `webhook-id` after verifying: retries reuse it.
 */
export class BanWebhookInvalid extends Error {
  override readonly name = 'BanWebhookInvalid';
}

export interface VerifiedBanWebhook {
  id: string;
  type: 'user.banned' | 'user.unbanned' | 'user.erased';
  data: { eventId: string; userId: string; identities: string[]; reason: string | null; actor: string; until: string | null };
  timestamp: string;
}

export function verifyBanWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  opts: { toleranceSeconds?: number; now?: number } = {},
): VerifiedBanWebhook {
  const h = (n: string): string => {
    const v = headers[n];
    const s = Array.isArray(v) ? v[0] : v;
    if (!s) throw new BanWebhookInvalid(`missing ${n} header`);
    return s;
  };
  const id = h('webhook-id');
  const ts = h('webhook-timestamp');
  if (!/^\d{1,12}$/.test(ts)) throw new BanWebhookInvalid('bad webhook-timestamp');
  const now = Math.floor((opts.now ?? Date.now()) / 1000);
  if (Math.abs(now - Number(ts)) > (opts.toleranceSeconds ?? 300)) throw new BanWebhookInvalid('webhook-timestamp outside the tolerance');
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest();
  const ok = h('webhook-signature')
    .split(' ')
    .some((part) => {
      const [version, sig] = part.split(',', 2);
      if (version !== 'v1' || !sig) return false;
      const given = Buffer.from(sig, 'base64');
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
  if (!ok) throw new BanWebhookInvalid('no matching signature');
  const parsed = JSON.parse(body) as Omit<VerifiedBanWebhook, 'id'>;
  return { id, ...parsed };
}
