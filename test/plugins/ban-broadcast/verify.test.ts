import { describe, it, expect } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { verifyBanWebhook, BanWebhookInvalid } from '../../../plugins/ban-broadcast/verify.js';
import { signStandardWebhook, decodeWebhookSecret } from '../../../plugins/ban-broadcast/webhook-signature.js';
import { secretFor } from './receivers.js';

describe('ban webhook signature: our signer, our verifier and the standardwebhooks package agree', () => {
  const secret = secretFor(3);
  const body = JSON.stringify({
    type: 'user.banned',
    timestamp: '2026-01-01T00:00:00.000Z',
    data: { eventId: 'e1', userId: 'u1', identities: [], reason: 'x', actor: 'admin:a', until: null },
  });
  const now = Date.now();
  const ts = Math.floor(now / 1000);

  it('verifies what we sign, with both verifiers', () => {
    const headers = signStandardWebhook(decodeWebhookSecret(secret), 'e1', ts, body);
    expect(verifyBanWebhook(secret, headers, body, { now })).toMatchObject({ id: 'e1', type: 'user.banned', data: { userId: 'u1' } });
    expect(new Webhook(secret).verify(body, headers)).toMatchObject({ type: 'user.banned' });
    // and the package's own signature is accepted by our verifier
    const theirs = new Webhook(secret).sign('e1', new Date(ts * 1000), body);
    expect(
      verifyBanWebhook(secret, { 'webhook-id': 'e1', 'webhook-timestamp': String(ts), 'webhook-signature': theirs }, body, { now }).id,
    ).toBe('e1');
  });

  it('refuses a tampered body, a wrong secret, a changed id and an old timestamp', () => {
    const headers = signStandardWebhook(decodeWebhookSecret(secret), 'e1', ts, body);
    expect(() => verifyBanWebhook(secret, headers, body.replace('u1', 'u2'), { now })).toThrow(BanWebhookInvalid);
    expect(() => verifyBanWebhook(secretFor(4), headers, body, { now })).toThrow(BanWebhookInvalid);
    expect(() => verifyBanWebhook(secret, { ...headers, 'webhook-id': 'e2' }, body, { now })).toThrow(BanWebhookInvalid);
    expect(() => verifyBanWebhook(secret, headers, body, { now: now + 301_000 })).toThrow(/tolerance/);
    expect(() => verifyBanWebhook(secret, { ...headers, 'webhook-signature': 'v1,' }, body, { now })).toThrow(BanWebhookInvalid);
  });
});
