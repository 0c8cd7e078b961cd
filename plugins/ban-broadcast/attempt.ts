import type { Clock, NewEvent, EventMap } from '../../plugin/index.js';
import type { SiteConfig } from '../../config/types.js';
import { decide, nextAttemptAt, type RetrySettings } from './delivery-policy.js';
import type { DeliveryState } from './delivery-state.js';
import type { ReceiverError } from './events.js';
import type { HttpSender } from './http-sender.js';
import type { BanNotification } from './notification.js';
import { setClaims, type SetSigner } from './set-token.js';
import { BadWebhookSecret, decodeWebhookSecret, signStandardWebhook } from './webhook-signature.js';

export interface AttemptInput {
  banEventId: string;
  siteId: string;
  state: DeliveryState;
  webhook: SiteConfig['webhook'] | undefined;
  /** The URL that answered 410 for this site, if any. */
  disabledUrl: string | undefined;
  notification: () => Promise<BanNotification>;
}

export interface AttemptDeps {
  sender: HttpSender;
  clock: Clock;
  retry: RetrySettings;
  issuer: string;
  signer: () => SetSigner | null;
}

export interface AttemptOutcome {
  events: NewEvent[];
  /** When to look at this delivery again (epoch ms), or null when it is finished. */
  nextAt: number | null;
  disable?: { url: string; status: number };
}

const ev = <K extends keyof EventMap>(type: K, data: EventMap[K]): NewEvent => ({ type, data }) as NewEvent;

/** RFC 8935 §2.3: a 400 carries `{ "err": ..., "description": ... }`. Untrusted: bounded and typed. */
function receiverError(body: string): ReceiverError | null {
  try {
    const j = JSON.parse(body) as { err?: unknown; description?: unknown };
    if (typeof j.err !== 'string') return null;
    return { err: j.err.slice(0, 64), description: typeof j.description === 'string' ? j.description.slice(0, 256) : null };
  } catch {
    return null;
  }
}

/** One HTTP attempt for one (ban, site), turned into the events that record its outcome. */
export async function attemptDelivery(input: AttemptInput, deps: AttemptDeps): Promise<AttemptOutcome> {
  const { banEventId, siteId, state } = input;
  const attempt = state.attempts + 1;
  const abandon = (reason: string): AttemptOutcome => ({
    events: [ev('BanNotificationAbandoned', { banEventId, siteId, attempts: state.attempts, reason })],
    nextAt: null,
  });
  const hook = input.webhook;
  if (!hook?.url) return abandon('no_webhook');
  if (input.disabledUrl === hook.url) return abandon('endpoint_disabled');
  const format = hook.format ?? 'standard-webhooks';
  const n = await input.notification();
  const now = deps.clock.now().getTime();

  let headers: Record<string, string>;
  let body: string;
  if (format === 'secevent') {
    const signer = deps.signer();
    if (!signer) return abandon('no_signing_keys');
    body = await signer.sign(setClaims(n, deps.issuer, hook.audience ?? siteId, Math.floor(now / 1000)), { typ: 'secevent+jwt' });
    headers = { 'content-type': 'application/secevent+jwt', accept: 'application/json' };
  } else {
    let key: Buffer;
    try {
      key = decodeWebhookSecret(hook.secret ?? '');
    } catch (err) {
      if (err instanceof BadWebhookSecret) return abandon('bad_secret');
      throw err;
    }
    body = JSON.stringify(n);
    headers = signStandardWebhook(key, banEventId, Math.floor(now / 1000), body);
  }

  const result = await deps.sender.post(hook.url, headers, body);
  const status = result.kind === 'response' ? result.status : null;
  const d = decide(result);
  const after = deps.clock.now().getTime();
  const failed = (error: string, next: number | null, extra: { receiverError?: ReceiverError | null } = {}): NewEvent =>
    ev('BanNotificationFailed', {
      banEventId,
      siteId,
      attempt,
      status,
      error,
      durationMs: result.durationMs,
      nextAttemptAt: next ? new Date(next).toISOString() : null,
      ...extra,
    });
  const giveUp = (error: string, reason: string, extra: { receiverError?: ReceiverError | null } = {}): AttemptOutcome => ({
    events: [failed(error, null, extra), ev('BanNotificationAbandoned', { banEventId, siteId, attempts: attempt, reason })],
    nextAt: null,
  });

  switch (d.outcome) {
    case 'delivered':
      return {
        events: [ev('BanNotificationDelivered', { banEventId, siteId, attempt, status: status!, durationMs: result.durationMs, format })],
        nextAt: null,
      };
    case 'gone':
      return { ...giveUp('http_410', 'endpoint_gone'), disable: { url: hook.url, status: 410 } };
    case 'permanent':
      return giveUp(
        d.error,
        d.error,
        format === 'secevent' && status === 400 && result.kind === 'response' ? { receiverError: receiverError(result.body) } : {},
      );
    case 'retry': {
      const roundStart = state.roundStartedAt ?? now;
      let next = nextAttemptAt(deps.retry, attempt, after, roundStart, d.notBeforeMs);
      // The seed's floor: a 5xx is retried at least once, whatever the horizon says.
      if (next === null && attempt === 1) next = after + Math.max(deps.retry.initialDelayMs, d.notBeforeMs);
      if (next === null) return giveUp(d.error, 'retry_horizon_exceeded');
      return { events: [failed(d.error, next)], nextAt: next };
    }
  }
}
