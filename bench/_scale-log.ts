// A realistic log for `npm run bench -- scale`, written straight into the SQLite store's file: the
// events the real commands produce (core/model/users.ts, reservation.ts, core/login/login-service.ts,
// the password-login plugin, adapters/crypto/totp.ts), hash-chained by sealEvents and written by
// the store's own importEvents (its serialisation, one prepared statement, 20,000 events a
// transaction), so the broker reads them as its own.
//
// Per user, about 10 events over three years: a registration with its email reservation and a
// password (70 %) or an OIDC link (30 %: identity reservation, link, provisioning record); TOTP
// for 20 % of the password users (each of their logins also records the code's step); 1–5 logins
// (mean 2.75), each a session with 0–2 refreshes, 35 % ending in a logout, the rest expiring;
// failed logins on 8 % of users; bans on 1 %. Users are made 1,000 at a time, each batch in its own
// slice of the three years, its events sorted by time, so the log is in time order.
import { createHash } from 'node:crypto';
import { SqliteEventStore } from '../adapters/event-stores/sqlite.js';
import { encryptDir } from '../adapters/crypto/key-cipher.js';
import { Keys } from '../adapters/kernel/master-key.js';

// TOTP secrets encrypted as the broker does, under the bench broker's master key (_scale-broker.ts):
// the broker checks at start that its key opens the log's last TOTP secret.
const TOTP_CIPHER = encryptDir('JBSWY3DPEHPK3PXP', new Keys(Buffer.from('b'.repeat(32))).derive('totp-secret'), 'totp-secret');
import { sealEvents, type NewEvent, type RecordedEvent } from '../core/index.js';

export interface ScaleLog {
  events: number;
  users: number;
  /** A user from the middle of the log, with a few logins: the one `audit user` and `q=` look at. */
  sampleUserId: string;
  sampleEmail: string;
}

const EVENTS_PER_USER = 10.4; // what the mix below averages (measured on 100k)
const CHUNK_USERS = 1000;
const T0 = Date.parse('2023-01-01T00:00:00Z');
const SPAN = 3 * 365 * 24 * 3600 * 1000;
const OIDC = ['https://accounts.example.com', 'https://login.example-corp.net/tenant-7/v2.0'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
];

/** mulberry32: a seeded generator, so a size always gives the same log. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha = (s: string, enc: 'hex' | 'base64url' = 'hex'): string => createHash('sha256').update(s).digest(enc);

interface Pending {
  at: number;
  stream: string;
  event: NewEvent;
}

function userEvents(
  i: number,
  rand: () => number,
  from: number,
  width: number,
): { out: Pending[]; userId: string; email: string; logins: number } {
  const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  const userId = `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
  const email = `user${i}@example.${['com', 'org', 'net'][i % 3]}`;
  const out: Pending[] = [];
  const user = `user-${userId}`;
  const push = (at: number, stream: string, type: string, data: unknown, actor: string, extra: Record<string, unknown> = {}): void => {
    out.push({
      at,
      stream,
      event: {
        type,
        data,
        metadata: { actor, causationId: null, recordedAt: new Date(at).toISOString(), ...extra },
      } as unknown as NewEvent,
    });
  };
  let t = from + rand() * width * 0.5;
  const emailKey = sha(email).slice(0, 40);
  const oidc = rand() < 0.3 ? OIDC[i % 2] : null;
  const subject = oidc ? String(Math.floor(rand() * 1e15)).padStart(15, '7') + String(i) : userId;
  const totp = !oidc && rand() < 0.2;
  const regActor = oidc ? `idp:${oidc}` : 'self-registration';
  push(t, `email-${emailKey}`, 'ReservationClaimed', { key: emailKey, userId }, regActor);
  push((t += 40), user, 'UserRegistered', { userId, email, name: `User ${i}`, admin: false, via: oidc ?? 'password' }, regActor);
  if (oidc) {
    const idKey = sha(`${subject}@${oidc}`).slice(0, 40);
    push((t += 15), `identity-${idKey}`, 'ReservationClaimed', { key: idKey, userId }, regActor);
    push((t += 15), user, 'ExternalIdentityLinked', { userId, issuer: oidc, subject, via: 'auto' }, regActor);
    push((t += 15), user, 'AccountProvisioned', { userId, issuer: oidc, subject, policy: 'auto' }, regActor);
  } else {
    push(
      (t += 120),
      user,
      'PasswordSet',
      {
        userId,
        passwordHash: `$argon2id$v=19$m=19456,t=2,p=1$${sha(userId + 's', 'base64url').slice(0, 22)}$${sha(userId + 'h', 'base64url')}`,
      },
      `user:${userId}`,
    );
    if (totp) {
      const codes = Array.from({ length: 10 }, (_, k) => sha(`${userId}:${k}`));
      push((t += 60_000), user, 'TotpEnrolled', { userId, secretCipher: TOTP_CIPHER, recoveryCodeHashes: codes }, `user:${userId}`);
    }
  }
  const ip = `203.0.${i % 250}.${(i * 7) % 250}`;
  const agent = AGENTS[i % AGENTS.length];
  if (rand() < 0.08) {
    const n = 1 + Math.floor(rand() * 3);
    for (let k = 0; k < n; k++) {
      push(
        t + rand() * width * 0.4,
        `loginlog-${userId}`,
        'LoginFailed',
        { userId, issuer: 'password', subject: `name-sha256:${sha(email).slice(0, 32)}`, reason: 'bad_password', ip },
        `user:${userId}`,
      );
    }
  }
  const r = rand();
  const logins = r < 0.2 ? 1 : r < 0.45 ? 2 : r < 0.7 ? 3 : r < 0.9 ? 4 : 5;
  for (let k = 0; k < logins; k++) {
    t += 60_000 + (rand() * (width * 0.5)) / logins;
    if (totp) push(t, `totp-${userId}`, 'TotpCodeAccepted', { userId, step: Math.floor(t / 30_000) }, `user:${userId}`);
    const sessionId = sha(`${userId}/${k}`, 'base64url').slice(0, 32);
    const session = `session-${sessionId}`;
    push(
      (t += 200),
      session,
      'LoginSucceeded',
      {
        userId,
        sessionId,
        issuer: oidc ?? 'password',
        subject,
        amr: totp ? ['pwd', 'otp'] : ['pwd'],
        roles: [],
        tenant: null,
        ip,
        userAgent: agent,
        expiresAt: new Date(t + 8 * 3600_000).toISOString(),
        idleTimeoutSeconds: 1800,
      },
      `user:${userId}`,
    );
    const refreshes = Math.floor(rand() * 3);
    let s = t;
    for (let j = 0; j < refreshes; j++)
      push((s += 200_000 + rand() * 1_000_000), session, 'SessionRefreshed', { sessionId, userId }, `user:${userId}`);
    if (rand() < 0.35)
      push(s + 60_000 + rand() * 600_000, session, 'SessionEnded', { sessionId, userId, reason: 'logout' }, `user:${userId}`);
  }
  if (rand() < 0.01)
    push(
      t + 3600_000 + rand() * width * 0.1,
      user,
      'UserBanned',
      { userId, reason: 'abuse reported', actor: 'admin:ops', until: null },
      'admin:ops',
    );
  return { out, userId, email, logins };
}

/** Writes about `target` events (whole batches of users) into a new SQLite store file. */
export async function generateScaleLog(file: string, target: number, onProgress?: (written: number) => void): Promise<ScaleLog> {
  const store = await SqliteEventStore.open({ path: file, synchronous: 'NORMAL' });
  const rand = rng(target);
  const chunks = Math.max(1, Math.ceil(target / EVENTS_PER_USER / CHUNK_USERS));
  const width = SPAN / chunks;
  let written = 0;
  let users = 0;
  let sample: { userId: string; email: string } | null = null;
  try {
    for (let c = 0; written < target; c++) {
      const pending: Pending[] = [];
      for (let u = 0; u < CHUNK_USERS && written + pending.length < target; u++, users++) {
        const made = userEvents(users, rand, T0 + Math.min(c, chunks - 1) * width, width);
        pending.push(...made.out);
        if (!sample && written + pending.length >= target / 2 && made.logins >= 3) sample = { userId: made.userId, email: made.email };
      }
      pending.sort((a, b) => a.at - b.at);
      // Every stream of a batch is its users' own: the chain state starts afresh per batch.
      const heads = new Map<string, { revision: number; hash: string }>();
      const sealed: RecordedEvent[] = [];
      for (const p of pending) {
        const h = heads.get(p.stream) ?? { revision: -1, hash: '' };
        const [e] = sealEvents(p.stream, [p.event], h.revision, h.hash, 1);
        heads.set(p.stream, { revision: e.revision, hash: e.hash });
        sealed.push(e);
      }
      for (let k = 0; k < sealed.length; k += 20_000) await store.importEvents(sealed.slice(k, k + 20_000));
      written += sealed.length;
      onProgress?.(written);
    }
  } finally {
    await store.close();
  }
  return { events: written, users, sampleUserId: sample!.userId, sampleEmail: sample!.email };
}
