import { createHmac } from 'node:crypto';

/**
 * Standard Webhooks signature (https://www.standardwebhooks.com/, spec "Signature scheme"):
 * `v1,` + base64(HMAC-SHA256(secret, "<webhook-id>.<webhook-timestamp>.<body>")), where the secret
 * is the base64 after the `whsec_` prefix. The timestamp is the send time of each attempt (the
 * receivers' replay window is measured from it); the id is the ban event id on every attempt.
 */
export class BadWebhookSecret extends Error {
  override readonly name = 'BadWebhookSecret';
}

export function decodeWebhookSecret(secret: string): Buffer {
  const b64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  const key = Buffer.from(b64, 'base64');
  // The spec recommends 24-64 bytes; refuse anything too short to be a real key.
  if (key.length < 16) throw new BadWebhookSecret('webhook secret must be whsec_ followed by at least 16 bytes of base64');
  return key;
}

export function signStandardWebhook(key: Buffer, id: string, timestampSeconds: number, body: string): Record<string, string> {
  const sig = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': `v1,${sig}`,
    'content-type': 'application/json',
  };
}
