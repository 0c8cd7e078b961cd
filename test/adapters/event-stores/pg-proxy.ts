/**
 * A TCP proxy in front of PostgreSQL that cuts one connection at a chosen moment of the wire
 * protocol: a real network fault, used to prove what the store does when it cannot know whether
 * its COMMIT landed.
 */
import net from 'node:net';

export type Cut =
  /** Forward the COMMIT, let the server commit, then drop the connection before the reply arrives. */
  | 'after-commit'
  /** Drop the connection instead of forwarding the next statement that inserts events. */
  | 'before-insert';

export interface FaultyProxy {
  url: string;
  arm(cut: Cut): void;
  /** How many cuts happened. */
  cuts: number;
  close(): Promise<void>;
}

export async function startFaultyProxy(targetUrl: string): Promise<FaultyProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<net.Socket>();
  let armed: Cut | null = null;
  const proxy: FaultyProxy = {
    url: '',
    cuts: 0,
    arm: (cut) => (armed = cut),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    let dropOnReply = false;
    const cut = (): void => {
      proxy.cuts++;
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (d: Buffer) => {
      if (armed === 'after-commit' && d.includes('COMMIT\0')) {
        armed = null;
        dropOnReply = true;
      } else if (armed === 'before-insert' && d.includes('INSERT INTO') && d.includes('.events')) {
        armed = null;
        return cut();
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => (dropOnReply ? cut() : client.write(d)));
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => {
        b.destroy();
        sockets.delete(a);
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  proxy.url = url.toString();
  return proxy;
}
