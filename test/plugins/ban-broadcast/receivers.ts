import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  headers: Record<string, string>;
  body: string;
  /** The standardwebhooks package accepted the signature (null: not a Standard Webhooks delivery). */
  verified: boolean | null;
  at: number;
}

/** What the receiver does with its n-th request (0-based). Return true when it handled the response itself. */
export type Behaviour = (n: number, req: http.IncomingMessage, res: http.ServerResponse, body: string) => void | Promise<void>;

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** Requests answered with a 2xx and the body fully written. */
  acked: Received[];
  close(): Promise<void>;
}

export const ok: Behaviour = (_n, _req, res) => {
  res.writeHead(200).end('ok');
};

/** A real HTTP receiver on 127.0.0.1 that verifies each delivery with the `standardwebhooks` package. */
export async function startReceiver(secret: string | null, behaviour: Behaviour = ok, port = 0): Promise<Receiver> {
  const received: Received[] = [];
  const acked: Received[] = [];
  const wh = secret ? new Webhook(secret) : null;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      let verified: boolean | null = null;
      if (wh) {
        try {
          wh.verify(body, headers);
          verified = true;
        } catch {
          verified = false;
        }
      }
      const r: Received = { headers, body, verified, at: Date.now() };
      const n = received.length;
      received.push(r);
      res.on('finish', () => {
        if (res.statusCode >= 200 && res.statusCode < 300) acked.push(r);
      });
      void behaviour(n, req, res, body);
    });
  });
  server.keepAliveTimeout = 500;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const p = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}/hook`,
    port: p,
    received,
    acked,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (yet): connection refused. */
export async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Waits for a condition, polling, with a bound (never a fixed sleep). */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const secretFor = (i: number): string => `whsec_${Buffer.alloc(32, i + 1).toString('base64')}`;
