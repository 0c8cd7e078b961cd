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
  // The cases, each a URL and the cookie it is sent with (the bare and open routes get none).
  const cases = {
    bare: [`${info.bareUrl}/bare`, undefined],
    same: [`${info.bareUrl}/bare-same`, info.cookie],
    floor: [`${info.floorUrl}/floor`, info.cookie],
    open: [`${info.brokerUrl}/bench/open`, undefined],
    session: [`${info.brokerUrl}/bench/session`, info.cookie],
  } as const;
  type Case = keyof typeof cases;
  const order = Object.keys(cases) as Case[];
  const headersOf = (c: Case) => (cases[c][1] ? { cookie: cases[c][1] } : undefined);
  for (const c of order) await load(cases[c][0], { duration: 1, headers: headersOf(c) });
  // Interleaved rounds: in each, every case runs back to back, so a neighbour's burst lands on all
  // of them. Reported: the median round (by the check's ratio to bare), and the server's CPU per
  // request over sockets, read from /proc (Linux), which a busy machine skews far less than req/s.
  // All apps share one process, loaded one at a time.
  const cpuTicks = (): number => {
    const f = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
  };
  const measure = async (c: Case) => {
    const t0 = cpuTicks();
    const r = await load(cases[c][0], { duration, headers: headersOf(c) });
    const total = r.rps * duration;
    return { ...r, cpuUs: total ? ((cpuTicks() - t0) * 10_000) / total : 0 };
  };
  type M = Awaited<ReturnType<typeof measure>>;
  const rounds: Record<Case, M>[] = [];
  for (let round = 0; round < roundsWanted; round++) {
    // The order rotates every round, so no case always runs first or last (a run's later minutes
    // are not its earlier ones: the bench's own autocannon and the child's heap both grow).
    const r = {} as Record<Case, M>;
    for (let i = 0; i < order.length; i++) {
      const c = order[(round + i) % order.length];
      r[c] = await measure(c);
    }
    if (order.some((c) => r[c].non2xx)) throw new Error('a route under load answered other than 200');
    rounds.push(r);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const byRatio = [...rounds].sort((a, b) => a.session.rps / a.bare.rps - b.session.rps / b.bare.rps);
  const mid = byRatio[Math.floor(byRatio.length / 2)];
  const { bare, same, floor, open, session } = mid;
  const pct = (x: number, of = bare.rps) => `${((100 * x) / of).toFixed(1)} %`;
  // x as a share of y in every round, for the reader to see the spread.
  const everyRound = (x: Case, y: Case) => rounds.map((r) => pct(r[x].rps, r[y].rps)).join(', ');
  const cpuMed = Object.fromEntries(order.map((c) => [c, median(rounds.map((r) => r[c].cpuUs))])) as Record<Case, number>;
  const cpuPct = (x: Case, y: Case) => `${((100 * cpuMed[x]) / cpuMed[y]).toFixed(1)} %`;
  const row = (name: string, c: Case) => ({ case: name, 'req/s': Math.round(mid[c].rps), 'p50 ms': mid[c].p50, 'p99 ms': mid[c].p99, 'of bare': pct(mid[c].rps), 'server CPU µs/req (median round)': cpuMed[c].toFixed(1) });
  console.log(`login benchmark — ${machine()} — autocannon -c 50 -d ${duration}, ${roundsWanted} interleaved rounds, the median round shown`);
  table([
    row('bare fastify route', 'bare'),
    row('bare fastify route, same request and answer as the check', 'same'),
    row('floor: plain fastify doing only the work the check needs', 'floor'),
    row('broker route, no session check', 'open'),
    row('broker route behind the session check', 'session'),
  ]);
  console.log(
    `session check: ${pct(session.rps)} of the bare route (target ≥ 80 %; rounds: ${everyRound('session', 'bare')}); ` +
      `${pct(session.rps, open.rps)} of the same broker route without the check; ` +
      `${pct(session.rps, same.rps)} of the bare route with the same request and answer (rounds: ${everyRound('session', 'same')})`,
  );
  console.log(
    `the floor (plain fastify with the same per-request work: request id, API security headers, request metrics, cookie, look-up): ` +
      `${pct(floor.rps)} of the bare route (rounds: ${everyRound('floor', 'bare')}); the broker's check is at ${pct(session.rps, floor.rps)} of it`,
  );
  console.log(
    `server CPU over sockets (median of rounds): floor/session ${cpuPct('floor', 'session')}, bare/floor ${cpuPct('bare', 'floor')}, ` +
      `bare/session ${cpuPct('bare', 'session')}, same-answer bare/session ${cpuPct('same', 'session')}, bare/open ${cpuPct('bare', 'open')}`,
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
