// npm run bench -- login
// (1) The session check every downstream hit pays: a broker route behind `web.session(req)` against a
//     bare fastify 5 route in the same run, and a broker route without the check, to separate the
//     check from the kernel's per-response work (security headers, metrics, request ids), and a bare
//     route that gets the same cookie and answers the same shape, to separate the check from the bytes
//     it reads and writes. BENCH_ROUNDS interleaved rounds of BENCH_DURATION s (default 5 × 3 s), the
//     order rotated each round. Target (issue 3): ≥ 80 % of the bare route.
// (2) Password logins/s at the default Argon2id parameters (m=19 MiB, t=2, p=1), full HTTP POSTs
//     (CSRF, lockout look-up, Argon2 verify, LoginSucceeded appended, cookie set), as a separate figure.
import fs from 'node:fs';
import { PasswordHasher, DEFAULT_ARGON2 } from '../adapters/crypto/password-hasher.js';
import { load, machine, startChild, table } from './_bench-kit.js';

const duration = Number(process.env.BENCH_DURATION ?? 3);
const roundsWanted = Number(process.env.BENCH_ROUNDS ?? 5);
type Info = { bareUrl: string; floorUrl: string; brokerUrl: string; cookie: string; csrfCookie: string; loginBody: string };
const { child, info } = await startChild<Info>('bench/_login-servers.ts');
try {
  await load(`${info.bareUrl}/bare`, { duration: 1 });
  await load(`${info.bareUrl}/bare-same`, { duration: 1, headers: { cookie: info.cookie } });
  await load(`${info.floorUrl}/floor`, { duration: 1, headers: { cookie: info.cookie } });
  await load(`${info.brokerUrl}/bench/open`, { duration: 1 });
  await load(`${info.brokerUrl}/bench/session`, { duration: 1, headers: { cookie: info.cookie } });
  // Interleaved rounds: in each, the bare route, the broker route and the route behind the check run
  // back to back, so a neighbour's burst lands on all three. Reported: the median round (by the
  // ratio to bare), and the server's CPU per request over sockets, read from /proc (Linux), which a
  // busy machine skews far less than req/s. The bare app and the broker share one process, loaded
  // one at a time.
  const cpuTicks = (): number => {
    const f = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
  };
  const measure = async (url: string, headers?: Record<string, string>) => {
    const t0 = cpuTicks();
    const r = await load(url, { duration, headers });
    const total = r.rps * duration;
    return { ...r, cpuUs: total ? ((cpuTicks() - t0) * 10_000) / total : 0 };
  };
  type M = Awaited<ReturnType<typeof measure>>;
  const rounds: { bare: M; same: M; floor: M; open: M; session: M }[] = [];
  const cases = {
    bare: () => measure(`${info.bareUrl}/bare`),
    same: () => measure(`${info.bareUrl}/bare-same`, { cookie: info.cookie }),
    floor: () => measure(`${info.floorUrl}/floor`, { cookie: info.cookie }),
    open: () => measure(`${info.brokerUrl}/bench/open`),
    session: () => measure(`${info.brokerUrl}/bench/session`, { cookie: info.cookie }),
  };
  const order = Object.keys(cases) as (keyof typeof cases)[];
  for (let round = 0; round < roundsWanted; round++) {
    // The order rotates every round, so no case always runs first or last (a run's later minutes
    // are not its earlier ones: the bench's own autocannon and the child's heap both grow).
    const r = {} as Record<keyof typeof cases, M>;
    for (let i = 0; i < order.length; i++) {
      const name = order[(round + i) % order.length];
      r[name] = await cases[name]();
    }
    if (r.session.non2xx || r.open.non2xx || r.bare.non2xx || r.same.non2xx || r.floor.non2xx) throw new Error('a route under load answered other than 200');
    rounds.push(r);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const byRatio = [...rounds].sort((a, b) => a.session.rps / a.bare.rps - b.session.rps / b.bare.rps);
  const mid = byRatio[Math.floor(byRatio.length / 2)];
  const { bare, same, floor, open, session } = mid;
  const bareRps = bare.rps;
  const pct = (x: number) => `${((100 * x) / bareRps).toFixed(1)} %`;
  const row = (name: string, r: M, cpu: number) => ({ case: name, 'req/s': Math.round(r.rps), 'p50 ms': r.p50, 'p99 ms': r.p99, 'of bare': pct(r.rps), 'server CPU µs/req (median round)': cpu.toFixed(1) });
  const cpuMed = { bare: median(rounds.map((r) => r.bare.cpuUs)), same: median(rounds.map((r) => r.same.cpuUs)), floor: median(rounds.map((r) => r.floor.cpuUs)), open: median(rounds.map((r) => r.open.cpuUs)), session: median(rounds.map((r) => r.session.cpuUs)) };
  console.log(`login benchmark — ${machine()} — autocannon -c 50 -d ${duration}, ${roundsWanted} interleaved rounds, the median round shown`);
  table([
    row('bare fastify route', bare, cpuMed.bare),
    row('bare fastify route, same request and answer as the check', same, cpuMed.same),
    row('floor: plain fastify doing only the work the check needs', floor, cpuMed.floor),
    row('broker route, no session check', open, cpuMed.open),
    row('broker route behind the session check', session, cpuMed.session),
  ]);
  console.log(
    `session check: ${pct(session.rps)} of the bare route (target ≥ 80 %; rounds: ${rounds.map((r) => `${((100 * r.session.rps) / r.bare.rps).toFixed(1)} %`).join(', ')}); ` +
      `${((100 * session.rps) / open.rps).toFixed(1)} % of the same broker route without the check; ` +
      `${((100 * session.rps) / same.rps).toFixed(1)} % of the bare route with the same request and answer (rounds: ${rounds.map((r) => `${((100 * r.session.rps) / r.same.rps).toFixed(1)} %`).join(', ')})`,
  );
  console.log(
    `the floor (plain fastify with the same per-request work: request id, API security headers, request metrics, cookie, look-up): ` +
      `${pct(floor.rps)} of the bare route (rounds: ${rounds.map((r) => `${((100 * r.floor.rps) / r.bare.rps).toFixed(1)} %`).join(', ')}); the broker's check is at ${((100 * session.rps) / floor.rps).toFixed(1)} % of it`,
  );
  console.log(
    `server CPU over sockets (median of rounds): floor/session ${((100 * cpuMed.floor) / cpuMed.session).toFixed(1)} %, bare/floor ${((100 * cpuMed.bare) / cpuMed.floor).toFixed(1)} %, bare/session ${((100 * cpuMed.bare) / cpuMed.session).toFixed(1)} %, same-answer bare/session ${((100 * cpuMed.same) / cpuMed.session).toFixed(1)} %, bare/open ${((100 * cpuMed.bare) / cpuMed.open).toFixed(1)} %`,
  );
  // Password logins: every request should be a 303 (logged in and sent on); autocannon counts 3xx as non-2xx.
  const logins = await load(`${info.brokerUrl}/password/login`, {
    duration,
    connections: 8,
    method: 'POST',
    body: info.loginBody,
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: info.csrfCookie },
  });
  const verify = new PasswordHasher(DEFAULT_ARGON2);
  const hash = await verify.hash('bench password 123');
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 2000) {
    await Promise.all([0, 1, 2, 3].map(() => verify.verify(hash, 'bench password 123')));
    n += 4;
  }
  const verifyPerSec = (n * 1000) / (performance.now() - t0);
  console.log(`password logins at default Argon2id (m=${DEFAULT_ARGON2.memoryCost} KiB, t=${DEFAULT_ARGON2.timeCost}, p=${DEFAULT_ARGON2.parallelism}), autocannon -c 8 -d ${duration}:`);
  table([
    { case: 'POST /password/login (full login, 303)', 'per s': Math.round(logins.rps), 'p50 ms': logins.p50, 'p99 ms': logins.p99, '3xx (expected all)': logins.non2xx, errors: logins.errors },
    { case: 'Argon2id verify alone, 4 in parallel (bench process)', 'per s': Math.round(verifyPerSec), 'p50 ms': '', 'p99 ms': '', '3xx (expected all)': '', errors: '' },
  ]);
} finally {
  child.kill('SIGTERM');
}
