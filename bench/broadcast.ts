// `npm run bench -- broadcast`: ban -> the last of 100 local sites acknowledged, p50/p99 over 50 bans.
// The broker runs on the embedded SQLite store (synchronous FULL, the default) with the
// ban-broadcast plugin at its default settings; the 100 receivers are plain node:http servers on
// 127.0.0.1 in this same process (so their work is inside the figure too). Target: p99 < 1 s.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { bootBroker } from '../adapters/kernel/boot.js';
import type { BrokerConfig } from '../config/types.js';
import plugin from '../plugins/ban-broadcast/index.js';

const SITES = 100;
const BANS = Number(process.argv[2] ?? 50);

const acks = new Map<string, { count: number; last: number }>();
const servers = await Promise.all(
  Array.from({ length: SITES }, async () => {
    const s = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const id = String(req.headers['webhook-id']);
        res.on('finish', () => {
          const a = acks.get(id) ?? { count: 0, last: 0 };
          a.count++;
          a.last = performance.now();
          acks.set(id, a);
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    return s;
  }),
);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-broadcast-'));
const config: BrokerConfig = {
  server: { host: '127.0.0.1', port: 0, baseUrl: 'http://127.0.0.1', trustProxy: false, insecureCookies: true },
  dataDir: dir,
  store: { kind: 'sqlite', path: path.join(dir, 'broker.db'), synchronous: 'FULL' },
  secrets: { masterKey: 'b'.repeat(32) },
  session: { absoluteSeconds: 3600, idleSeconds: 600 },
  log: { level: 'silent' },
  admin: { apiTokens: [] },
  sites: servers.map((s, i) => ({
    id: `site${i}`,
    name: `site ${i}`,
    returnUrls: [],
    webhook: {
      url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/hook`,
      secret: `whsec_${Buffer.alloc(32, i).toString('base64')}`,
    },
  })),
  plugins: [],
};
const broker = await bootBroker(config, { plugins: [{ plugin, config: { allowPrivateAddresses: ['127.0.0.1'] } }] });
await broker.ready();

const waitAll = async (id: string, t0: number): Promise<number> => {
  for (;;) {
    const a = acks.get(id);
    if (a && a.count >= SITES) return a.last - t0;
    if (performance.now() - t0 > 30_000) throw new Error(`ban ${id}: only ${a?.count ?? 0} of ${SITES} sites acknowledged after 30 s`);
    await new Promise((r) => setImmediate(r));
  }
};

const times: number[] = [];
for (let i = 0; i < BANS + 3; i++) {
  const { userId } = await broker.users.register({ email: `u${i}@example.com` }, { actor: 'bench' });
  const t0 = performance.now();
  const res = await broker.users.execute(userId, { type: 'ban', reason: 'bench', actor: 'admin:bench' }, { actor: 'admin:bench' });
  const ms = await waitAll(res.events[0].id, t0);
  if (i >= 3) times.push(ms); // the first three warm up connections and JIT
}
times.sort((a, b) => a - b);
const pct = (p: number) => times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)];
const extra = [...acks.values()].reduce((n, a) => n + a.count, 0) - (BANS + 3) * SITES;
console.log(`ban -> last of ${SITES} sites acknowledged, ${BANS} bans (SQLite FULL, ${os.cpus().length} cpus):`);
console.log(
  `  p50 ${pct(50).toFixed(1)} ms   p99 ${pct(99).toFixed(1)} ms   max ${times[times.length - 1].toFixed(1)} ms   (target p99 < 1000 ms)`,
);
console.log(`  duplicate deliveries: ${extra}`);
await broker.stop();
await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
fs.rmSync(dir, { recursive: true, force: true });
