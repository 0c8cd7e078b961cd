// `npm run bench -- handoff`: signed handoffs/s for an already logged-in browser (session cookie →
// HMAC-SHA256 signed 303 to the site) against a bare fastify 303 route, same run, autocannon -c 50 -d 5.
// The broker and the bare route run in processes of their own.
import { request } from 'undici';
import { load, loadServer, machine, startChild, table } from './_bench-kit.js';
import { verifyHandoff } from '../plugins/hmac-handoff/verify.js';

const duration = Number(process.env.BENCH_DURATION ?? 5);
const { child, info } = await startChild<{ brokerUrl: string; cookie: string; returnTo: string; key: { kid: string; secret: string } }>(
  'bench/_handoff-servers.ts',
  ['broker'],
);
const bareChild = await startChild<{ url: string }>('bench/_handoff-servers.ts', ['bare']);
try {
  const nonce = 'bench-nonce-0123456789';
  const path = `/sso/bench?return_to=${encodeURIComponent(info.returnTo)}&nonce=${nonce}`;
  const headers = { cookie: info.cookie };

  // Correctness first: the route under load must answer a redirect the site's verifier accepts.
  const probe = await request(`${info.brokerUrl}${path}`, { headers });
  await probe.body.dump();
  const location = String(probe.headers.location ?? '');
  if (probe.statusCode !== 303 || !location.startsWith(info.returnTo))
    throw new Error(`handoff probe answered ${probe.statusCode} ${location}`);
  const v = await verifyHandoff(new URL(location).searchParams, [info.key], {
    now: Date.now(),
    expectedSite: 'bench',
    expectedNonce: nonce,
    seenNonce: () => false,
  });
  if (v.fields.email !== 'bench@example.test') throw new Error('handoff probe carried the wrong user');

  const measure = (pid: number, url: string, headers?: Record<string, string>) => loadServer(pid, url, { headers, duration });
  // Each process warmed up first: the bare app's process has served nothing until now.
  for (const [url, h] of [
    [`${bareChild.info.url}/redirect`, undefined],
    [`${info.brokerUrl}${path}`, headers],
    [`${info.brokerUrl}/bench/redirect`, headers],
  ] as const) {
    await load(url, { duration: 1, headers: h });
  }
  const bare = await measure(bareChild.child.pid!, `${bareChild.info.url}/redirect`);
  const handoff = await measure(child.pid!, `${info.brokerUrl}${path}`, headers);
  const brokerBase = await measure(child.pid!, `${info.brokerUrl}/bench/redirect`, headers);
  for (const [name, r] of [
    ['bare', bare],
    ['handoff', handoff],
    ['broker baseline', brokerBase],
  ] as const) {
    // Every answer must be the 303 (autocannon counts 3xx as non-2xx): anything else means we measured errors.
    if (r.errors > 0) throw new Error(`${name}: ${r.errors} connection errors`);
  }
  console.log(`machine: ${machine()}; autocannon -c 50 -d ${duration}`);
  table([
    {
      route: 'bare fastify 303',
      'req/s': Math.round(bare.rps),
      'p50 ms': bare.p50,
      'p99 ms': bare.p99,
      '3xx': bare.non2xx,
      'server CPU µs/req': Math.round(bare.cpuUs),
    },
    {
      route: 'signed handoff 303 (session)',
      'req/s': Math.round(handoff.rps),
      'p50 ms': handoff.p50,
      'p99 ms': handoff.p99,
      '3xx': handoff.non2xx,
      'server CPU µs/req': Math.round(handoff.cpuUs),
    },
    {
      route: 'broker trivial 303 (same server, for context)',
      'req/s': Math.round(brokerBase.rps),
      'p50 ms': brokerBase.p50,
      'p99 ms': brokerBase.p99,
      '3xx': brokerBase.non2xx,
      'server CPU µs/req': Math.round(brokerBase.cpuUs),
    },
  ]);
  console.log(
    `broker trivial / bare = ${((brokerBase.rps / bare.rps) * 100).toFixed(1)} % (what the server's own hooks and headers cost, before any handoff work)`,
  );
  const ratio = handoff.rps / bare.rps;
  console.log(`handoff / bare = ${(ratio * 100).toFixed(1)} % (target ≥ 70 %)`);
} finally {
  child.kill();
  bareChild.child.kill();
}
