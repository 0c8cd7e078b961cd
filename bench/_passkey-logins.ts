// Passkey and password logins against one broker (role `logins` of _login-servers.ts), driven by the
// same closed loop in this process: `workers` clients, each logging in again as soon as its last
// login answered. A passkey login is what the page script does: POST /passkey/login/options for a
// challenge, the assertion made here by a software authenticator (ES256 on node:crypto, its own
// counter), POST /passkey/login/verify (challenge consumed, signature and counter checked,
// `PasskeyUsed` and `LoginSucceeded` appended, cookie set, 303). A password login is the form POST
// (CSRF, lockout look-up, Argon2id verify, `LoginSucceeded`, 303). Each worker has a passkey of its
// own: one credential's counter can only be presented in order, and two racing logins with one
// credential are refused by design. No worker keeps its session cookie (a login over a live session
// would also end that session: work the autocannon password figure does not include either).
import { client, type Client } from '../test/helpers/cookie-jar.js';
import { SoftAuthenticator } from '../test/helpers/soft-authenticator.js';
import { ORIGIN, passwordLogin, registerFromAccount } from '../test/plugins/passkey/passkey-world.js';

export interface LoopResult {
  perSec: number;
  p50: number;
  p99: number;
  failed: number;
}

async function closedLoop(
  workers: number,
  seconds: number,
  one: (c: Client, i: number) => Promise<boolean>,
  url: string,
): Promise<LoopResult> {
  const lat: number[] = [];
  let failed = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: workers }, async (_, i) => {
      const c = client(url);
      while (performance.now() < deadline) {
        const s = performance.now();
        if (await one(c, i)) lat.push(performance.now() - s);
        else failed++;
        c.jar.cookies.delete('broker_session');
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const at = (q: number) => Number((lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] ?? 0).toFixed(1));
  return { perSec: lat.length / elapsed, p50: at(0.5), p99: at(0.99), failed };
}

/** Registers one software passkey per worker for `email` (a fresh password login, then the account page's ceremony). */
export async function enrolPasskeys(url: string, email: string, n: number): Promise<SoftAuthenticator[]> {
  const c = client(url);
  await passwordLogin(c, email);
  const auths: SoftAuthenticator[] = [];
  for (let i = 0; i < n; i++) {
    const a = new SoftAuthenticator({ rpId: new URL(ORIGIN).hostname, origin: ORIGIN });
    await registerFromAccount(c, a);
    auths.push(a);
  }
  return auths;
}

export function passkeyLogins(url: string, auths: SoftAuthenticator[], seconds: number): Promise<LoopResult> {
  return closedLoop(
    auths.length,
    seconds,
    async (c, i) => {
      const o = await c.request('/passkey/login/options', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"lr":""}',
      });
      const { challenge } = (await o.json()) as { challenge: string };
      const res = await c.request('/passkey/login/verify', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ lr: '', response: JSON.stringify(auths[i].assert(challenge)) }).toString(),
      });
      await res.body?.cancel();
      return res.status === 303 && c.jar.cookies.has('broker_session');
    },
    url,
  );
}

export function passwordLogins(url: string, workers: number, seconds: number, loginBody: string, csrfCookie: string): Promise<LoopResult> {
  return closedLoop(
    workers,
    seconds,
    async (c) => {
      const res = await c.request('/password/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie },
        body: loginBody,
      });
      await res.body?.cancel();
      return res.status === 303 && c.jar.cookies.has('broker_session');
    },
    url,
  );
}
