// npm run bench -- gateway
// Authenticated proxied requests/s through the broker's gateway (session cookie, and bearer JWT)
// against a bare @fastify/http-proxy with no authentication to the same upstream, in one run.
// Target (issue 8): ≥ 80 % of the bare proxy's throughput and ≤ 2 ms added p99 latency.
import { load, machine, startChild, startUpstream, table } from './_bench-kit.js';

const duration = Number(process.env.BENCH_DURATION ?? 5);
const up = await startUpstream();
// The bare proxy and the broker in processes of their own.
const { child, info: broker } = await startChild<{ brokerUrl: string; cookie: string; bearer: string | null }>(
  'bench/_gateway-servers.ts',
  [up.url, 'broker'],
);
const bareChild = await startChild<{ url: string }>('bench/_gateway-servers.ts', [up.url, 'bare']);
const info = { ...broker, bareUrl: bareChild.info.url };
try {
  // warm-up
  await load(`${info.bareUrl}/apps/bench/x`, { duration: 1 });
  await load(`${info.brokerUrl}/apps/bench/x`, { duration: 1, headers: { cookie: info.cookie } });
  // Two interleaved rounds, the better of each kept: on a shared machine a neighbour's burst
  // otherwise decides the ratio more than the code does.
  type R = Awaited<ReturnType<typeof load>>;
  const best = (a: R | null, b: R): R => (a && a.rps >= b.rps ? a : b);
  let bare: R | null = null;
  let session: R | null = null;
  let bearer: R | null = null;
  for (let round = 0; round < 2; round++) {
    bare = best(bare, await load(`${info.bareUrl}/apps/bench/x`, { duration }));
    session = best(session, await load(`${info.brokerUrl}/apps/bench/x`, { duration, headers: { cookie: info.cookie } }));
    if (info.bearer)
      bearer = best(
        bearer,
        await load(`${info.brokerUrl}/apps/bench/x`, { duration, headers: { authorization: `Bearer ${info.bearer}` } }),
      );
  }
  if (!bare || !session) throw new Error('no rounds ran');
  const rows = [
    {
      case: 'bare @fastify/http-proxy (no auth)',
      'req/s': Math.round(bare.rps),
      'p50 ms': bare.p50,
      'p99 ms': bare.p99,
      ratio: '100 %',
      'non-2xx': bare.non2xx,
    },
    {
      case: 'gateway, session cookie',
      'req/s': Math.round(session.rps),
      'p50 ms': session.p50,
      'p99 ms': session.p99,
      ratio: `${((100 * session.rps) / bare.rps).toFixed(1)} %`,
      'non-2xx': session.non2xx,
    },
  ];
  if (bearer)
    rows.push({
      case: 'gateway, bearer JWT',
      'req/s': Math.round(bearer.rps),
      'p50 ms': bearer.p50,
      'p99 ms': bearer.p99,
      ratio: `${((100 * bearer.rps) / bare.rps).toFixed(1)} %`,
      'non-2xx': bearer.non2xx,
    });
  console.log(`gateway benchmark — ${machine()} — autocannon -c 50 -d ${duration}, best of 2 interleaved rounds`);
  table(rows);
  console.log(
    `added p99: session ${(session.p99 - bare.p99).toFixed(1)} ms${bearer ? `, bearer ${(bearer.p99 - bare.p99).toFixed(1)} ms` : ' (bearer: no signing keys bound, skipped)'}`,
  );
} finally {
  child.kill('SIGTERM');
  bareChild.child.kill('SIGTERM');
  up.child.kill('SIGTERM');
}
