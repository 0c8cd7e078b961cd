import fs from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect, afterEach } from 'vitest';
import { ERASED, personalFieldsOf } from '../../core/index.js';
import { dropSchema, freshSchema, pgUnavailable } from '../adapters/event-stores/pg-fixture.js';
import { until } from '../plugins/ban-broadcast/receivers.js';
import {
  UserBrowser,
  adminPost,
  distinctivePerson,
  filesUnder,
  findNeedles,
  loginByOidc,
  loginByPassword,
  loginBySaml,
  pgRelationFiles,
  registerByPassword,
  startWorld,
  type Hit,
  type Needle,
  wrappedUserKey,
  type Person,
  type StoreKind,
  type World,
} from './erasure-world.js';

/**
 * Issue 19, end to end: a person registers, logs in by password, through an upstream OIDC IdP and
 * through a SAML IdP, from a distinctive address and browser; is banned; is erased. Then no byte of
 * what identified them is left in the database files or in the export, the chains and the tree
 * still verify, the site was told with a verified webhook, and their email registers anew.
 */

const pgSkip = await pgUnavailable();

const needlesOf = (p: Person): Needle[] => [
  { label: 'email', value: p.email },
  { label: 'email local part', value: p.email.split('@')[0] },
  { label: 'name', value: p.name },
  { label: 'ip', value: p.ip },
  { label: 'user agent', value: p.userAgent },
  { label: 'oidc subject', value: p.oidcSubject },
  { label: 'saml nameid', value: p.samlNameId },
];

/** What the log never held even before the erasure: a plain hash of the email (reservation names are keyed now). */
const hashesOf = (p: Person): Needle[] => [{ label: 'sha256 of the email', value: createHash('sha256').update(p.email).digest('hex') }];

const describeHits = (hits: Hit[]): string[] => hits.map((h) => `${h.needle} in ${h.where} @${h.offset}: …${h.context}…`);

type Erasure = 'cli' | 'admin-api';

async function scenario(kind: StoreKind, erasure: Erasure, world: (w: World) => void): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `erasure-${kind}-`));
  const schema = kind === 'postgres' ? freshSchema() : null;
  const w = await startWorld(kind, dir, schema);
  world(w);
  const p = distinctivePerson();
  const broker = await w.boot();
  const as = () => new UserBrowser({ 'x-forwarded-for': p.ip, 'user-agent': p.userAgent });

  // --- the person's life at the broker, each step from their own browser
  const registered = await registerByPassword(as(), w.url, p);
  expect(registered.status, registered.body.slice(0, 500)).toBeLessThan(400);
  const userId = broker.read.users.findByEmail(p.email)?.userId;
  expect(userId, 'registered').toBeTruthy();

  const pw = await loginByPassword(as(), w.url, p);
  expect(pw.status, pw.body.slice(0, 500)).toBeLessThan(400);
  const oidc = await loginByOidc(as(), w, p);
  expect(oidc.status, oidc.body.slice(0, 500)).toBeLessThan(400);
  const saml = await loginBySaml(as(), w, p);
  expect(saml.status, saml.body.slice(0, 500)).toBeLessThan(400);

  // The three logins are the same person: OIDC and SAML linked to the password account by email.
  await until(() => (broker.read.users.get(userId!)?.identities.length ?? 0) === 2, 5000, 'both identities linked');
  expect(broker.read.users.get(userId!)!.identities).toEqual(
    expect.arrayContaining([
      { issuer: w.upstream.issuer, subject: p.oidcSubject },
      { issuer: w.saml.entityId, subject: p.samlNameId },
    ]),
  );
  const logins = (await broker.store.readAll({ limit: 100_000 })).filter(
    (e) => e.type === 'LoginSucceeded' && (e.data as { userId: string }).userId === userId,
  );
  expect(logins.length).toBeGreaterThanOrEqual(3);
  // What the broker saw, opened: the distinctive address and browser (so the greps below are meaningful).
  for (const e of logins) expect(e.data).toMatchObject({ ip: p.ip, userAgent: p.userAgent });

  // --- banned (the site hears of it), then a refused login attempt from the same browser
  const ban = await adminPost(w, `/admin/users/${userId}/ban`, { reason: 'spam', confirm: 'yes' });
  expect(ban.status, JSON.stringify(ban.json)).toBe(200);
  await until(() => w.receiver.acked.some((r) => JSON.parse(r.body).type === 'user.banned'), 10_000, 'user.banned delivered');
  const banned = w.receiver.received.find((r) => JSON.parse(r.body).type === 'user.banned')!;
  expect(banned.verified).toBe(true);
  expect(JSON.parse(banned.body).data.userId).toBe(userId);
  const refused = await loginByPassword(as(), w.url, p);
  expect(refused.status).toBe(403);

  // Controls: before the erasure, the export (opened, as an auditor reads it) shows every needle,
  // and the node's read database holds the live user's email, so the searches below can find things.
  const before = await w.cli('events', 'export', '--jsonl');
  expect(before.code, before.stderr).toBe(0);
  expect(new Set(findNeedles(Buffer.from(before.stdout), needlesOf(p), 'export').map((h) => h.needle))).toEqual(
    new Set(needlesOf(p).map((n) => n.label)),
  );
  const filesBefore = filesUnder(dir, [w.configFile]).flatMap((f) => findNeedles(fs.readFileSync(f), needlesOf(p), path.relative(dir, f)));
  expect(filesBefore.some((h) => h.needle === 'email' && h.where.includes('read.db'))).toBe(true);

  // The user's data key, wrapped, as the key table holds it: after the erasure no copy may remain
  // in a database file (SQLite: secure_delete and a truncated WAL; PostgreSQL: VACUUM FULL).
  const wrapped = await wrappedUserKey(w, userId!);
  expect(wrapped?.length).toBe(60);
  const keyNeedle: Needle = { label: 'wrapped data key', value: wrapped! };
  const keyFiles = kind === 'postgres' ? (await pgRelationFiles(schema!)).map((f) => f.file) : filesUnder(dir, [w.configFile]);
  expect(
    keyFiles.some((f) => findNeedles(fs.readFileSync(f), [keyNeedle], f).length > 0),
    'the wrapped key is found in the files before',
  ).toBe(true);

  // --- erased
  if (erasure === 'cli') {
    const r = await w.cliProcess('users', 'erase', p.email, '--reason', 'GDPR art. 17 request #42');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`erased ${userId}`);
    expect(r.stdout).not.toContain('warning');
  } else {
    expect(
      (await adminPost(w, `/admin/users/${userId}/erase`, { reason: 'GDPR art. 17 request #42' })).status,
      'confirmation required',
    ).toBe(400);
    const r = await adminPost(w, `/admin/users/${userId}/erase`, { reason: 'GDPR art. 17 request #42', confirm: 'yes' });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
  }
  await until(() => w.receiver.acked.some((r) => JSON.parse(r.body).type === 'user.erased'), 10_000, 'user.erased delivered');
  const erased = w.receiver.received.find((r) => JSON.parse(r.body).type === 'user.erased')!;
  expect(erased.verified).toBe(true);
  const body = JSON.parse(erased.body);
  expect(body.data).toMatchObject({ userId, identities: [], reason: 'GDPR art. 17 request #42' });
  expect(findNeedles(Buffer.from(erased.body), needlesOf(p), 'the user.erased webhook')).toEqual([]);
  await until(() => broker.read.users.get(userId!)?.erased === true, 5000, 'read model shows the erasure');
  expect(broker.read.users.findByEmail(p.email)).toBeUndefined();

  // The console's page of the user names them by id alone.
  const page = await fetch(`${w.url}/admin/users/${userId}`, { headers: { authorization: `Bearer ${w.adminToken}`, accept: 'text/html' } });
  const html = await page.text();
  expect(page.status, html.slice(0, 300)).toBe(200);
  expect(html).toContain(`erased user ${userId}`);
  expect(describeHits(findNeedles(Buffer.from(html), needlesOf(p), 'the console page'))).toEqual([]);

  // Already while the broker runs, with the erasure applied: no file of the node (the logs and
  // read databases with their -wal and -shm) holds the person or their key.
  const live = filesUnder(dir, [w.configFile]).flatMap((f) =>
    findNeedles(fs.readFileSync(f), [...needlesOf(p), ...hashesOf(p), keyNeedle], `${path.relative(dir, f)} (broker running)`),
  );
  expect(describeHits(live)).toEqual([]);

  // The broker's own log lines name nobody (the request line's address aside, docs/security/erasure.md).
  const logHits = findNeedles(
    Buffer.from(w.logs.map((l) => JSON.stringify(l)).join('\n')),
    needlesOf(p).filter((n) => n.label !== 'ip'),
    'the broker log',
  );
  expect(describeHits(logHits)).toEqual([]);
  expect(
    w.logs.some((l) => JSON.stringify(l).includes(p.ip)),
    "the log has the person's request lines",
  ).toBe(true);

  await w.stop();

  // --- the raw bytes of every database file
  const hits: Hit[] = [];
  const inFiles = [...needlesOf(p), ...hashesOf(p), keyNeedle];
  for (const f of filesUnder(dir, [w.configFile])) hits.push(...findNeedles(fs.readFileSync(f), inFiles, path.relative(dir, f)));
  if (kind === 'postgres') {
    const files = await pgRelationFiles(schema!);
    expect(files.some((f) => f.relation === 'events')).toBe(true);
    for (const f of files) hits.push(...findNeedles(fs.readFileSync(f.file), inFiles, `postgres ${schema}.${f.relation} (${f.file})`));
  } else {
    expect(fs.existsSync(path.join(dir, 'broker.db'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'broker.read.db'))).toBe(true);
  }
  expect(describeHits(hits)).toEqual([]);

  // --- the export: nobody in it, and `[erased]` where the person's fields were
  const exp = await w.cli('events', 'export', '--jsonl');
  expect(exp.code, exp.stderr).toBe(0);
  expect(describeHits(findNeedles(Buffer.from(exp.stdout), [...needlesOf(p), ...hashesOf(p)], 'events export'))).toEqual([]);
  const lines = exp.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown>; metadata: Record<string, unknown>; opened?: string[] });
  const about = lines.filter((l) => l.data?.userId === userId);
  const personal = about.filter((l) => personalFieldsOf(l.type));
  expect(personal.map((l) => l.type)).toEqual(
    expect.arrayContaining(['UserRegistered', 'ExternalIdentityLinked', 'LoginSucceeded', 'LoginFailed']),
  );
  for (const l of personal) {
    for (const f of personalFieldsOf(l.type)!.fields)
      if (l.data[f] !== undefined && l.data[f] !== null) expect(l.data[f], `${l.type}.${f}`).toBe(ERASED);
    for (const f of ['ip', 'userAgent'])
      if (typeof l.metadata?.[f] === 'string') expect(l.metadata[f], `${l.type} metadata.${f}`).toBe(ERASED);
  }
  const reg = personal.find((l) => l.type === 'UserRegistered')!;
  expect(reg.data).toMatchObject({ email: ERASED, name: ERASED });
  expect(personal.find((l) => l.type === 'LoginSucceeded')!.data).toMatchObject({ subject: ERASED, ip: ERASED, userAgent: ERASED });

  // --- the chains and the tree still verify
  const verify = await w.cli('audit', 'verify', '--json');
  expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  const v = JSON.parse(verify.stdout) as { breaks: number; tree: boolean; checked: number };
  expect(v).toMatchObject({ breaks: 0, tree: true });
  expect(v.checked).toBe(lines.length);

  // --- the audit trail keeps the kinds and times, not the person
  const audit = await w.cli('audit', 'user', userId!, '--json');
  expect(audit.code, audit.stderr).toBe(0);
  expect(describeHits(findNeedles(Buffer.from(audit.stdout), needlesOf(p), 'audit user'))).toEqual([]);
  const trail = JSON.parse(audit.stdout) as { events: { type: string; data: Record<string, unknown> }[] };
  expect(trail.events.map((e) => e.type)).toEqual(expect.arrayContaining(['UserRegistered', 'LoginSucceeded', 'UserBanned', 'UserErased']));
  expect(trail.events.find((e) => e.type === 'UserRegistered')!.data).toMatchObject({ email: ERASED, name: ERASED });
  const auditText = await w.cli('audit', 'user', userId!);
  expect(auditText.stdout).toContain(ERASED);
  expect(auditText.stdout).toContain('erased');

  // --- the address is free again: a new person registers with it
  const again = await w.boot();
  expect(again.read.users.get(userId!)?.erased).toBe(true);
  const newcomer = { ...distinctivePerson(), email: p.email };
  const second = await registerByPassword(new UserBrowser({ 'user-agent': 'newcomer' }), w.url, newcomer);
  expect(second.status, second.body.slice(0, 500)).toBeLessThan(400);
  const newId = again.read.users.findByEmail(p.email)?.userId;
  expect(newId).toBeTruthy();
  expect(newId).not.toBe(userId);
  // Repeating the erasure (docs: safe after a restored backup) leaves the newcomer's address alone.
  const repeat = await w.cli('users', 'erase', userId!, '--reason', 'repeated after a restore');
  expect(repeat.code, repeat.stderr).toBe(0);
  expect(await again.users.findByEmail(p.email)).toBe(newId);
}

describe('erasure by crypto-shredding, end to end (issue 19)', () => {
  let current: World | null = null;
  afterEach(async () => {
    const w = current;
    current = null;
    if (!w) return;
    await w.close();
    if (w.schema) await dropSchema(w.schema);
    fs.rmSync(w.dir, { recursive: true, force: true });
  });

  it(
    'SQLite file store, erased with `broker users erase` (its own process) beside the running broker: no byte of the person left, chains verify, site told, email free',
    { timeout: 120_000 },
    async () => {
      await scenario('sqlite', 'cli', (w) => (current = w));
    },
  );

  it.skipIf(!!pgSkip)(
    'PostgreSQL (a fresh schema), erased through the admin API: no byte of the person left in its table files or the node read.db, chains verify, site told, email free',
    { timeout: 120_000 },
    async () => {
      await scenario('postgres', 'admin-api', (w) => (current = w));
    },
  );
});
