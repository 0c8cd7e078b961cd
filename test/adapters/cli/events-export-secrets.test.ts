import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { bootBroker } from '../../../adapters/kernel/boot.js';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import type { NewEvent } from '../../../core/index.js';
import { TEST_ARGON2, testConfig } from '../../helpers/broker.js';
import { client } from '../../helpers/cookie-jar.js';
import { createPasswordUser } from '../../helpers/users.js';
import { CLIENTS, PW, REDIRECT, SECRET, authorize, authorizeUrl, basic, pkce, postForm } from '../../plugins/oauth-server/harness.js';
import { runCli } from './run-cli.js';

interface Line {
  id: string;
  streamId: string;
  revision: number;
  type: string;
  version: number;
  data: Record<string, unknown> | string;
  metadata: unknown;
  prevHash: string;
  hash: string;
  redacted?: string[];
  opened?: string[];
  sealed?: Record<string, unknown>;
}

/** The event as stored: each `opened` path removed, each `sealed` part put back (docs/security/export.md). */
function asStored(e: Line): { data: unknown; metadata: unknown } {
  if (!e.opened) return { data: e.data, metadata: e.metadata };
  const parts: Record<string, Record<string, unknown>> = {
    data: { ...(e.data as Record<string, unknown>) },
    metadata: { ...(e.metadata as Record<string, unknown>) },
  };
  for (const p of e.opened) {
    const [top, field] = p.split('.');
    delete parts[top][field];
  }
  for (const [p, v] of Object.entries(e.sealed ?? {})) {
    const [top, field] = p.split('.');
    parts[top][field] = v;
  }
  return { data: parts.data, metadata: parts.metadata };
}

/** Canonical JSON as docs/security/export.md defines it, written here from the doc, not imported. */
const canon = (v: unknown): string =>
  v === null || typeof v !== 'object'
    ? JSON.stringify(v ?? null)
    : Array.isArray(v)
      ? `[${v.map(canon).join(',')}]`
      : `{${Object.keys(v)
          .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${canon((v as Record<string, unknown>)[k])}`)
          .join(',')}}`;

/** What a SIEM does with an export: every chain link, and the hash of every event it was given whole. */
function siemCheck(lines: Line[]): { linked: number; recomputed: number; problems: string[] } {
  const last = new Map<string, Line>();
  const problems: string[] = [];
  let recomputed = 0;
  for (const e of lines) {
    const prev = last.get(e.streamId);
    if (e.revision !== (prev ? prev.revision + 1 : 0) || e.prevHash !== (prev ? prev.hash : ''))
      problems.push(`link ${e.streamId}@${e.revision}`);
    if (!e.redacted) {
      const { id, streamId, revision, type, version, prevHash } = e;
      const { data, metadata } = asStored(e);
      if (createHash('sha256').update(canon({ id, streamId, revision, type, version, data, metadata, prevHash })).digest('hex') !== e.hash)
        problems.push(`hash ${e.streamId}@${e.revision}`);
      recomputed++;
    }
    last.set(e.streamId, e);
  }
  return { linked: lines.length, recomputed, problems };
}

const parse = (stdout: string): Line[] =>
  stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);

describe('broker events export on a real SQLite log (child process)', () => {
  let dir: string;
  const secrets: Record<string, string[]> = {};

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-export-'));
    // A broker on the SQLite file writes what a real one does: a password, TOTP with recovery codes,
    // a client with a secret, a signing key, a grant with a refresh token, a rotation.
    const config = testConfig({
      dataDir: dir,
      store: { kind: 'sqlite' },
      log: { level: 'warn' },
      // The master key in <dataDir>/master.key, which the CLI below reads too (it opens personal data).
      secrets: {},
      plugins: [
        { name: 'password-login', config: { argon2: TEST_ARGON2 } },
        { name: 'oauth-server', config: { clients: CLIENTS } },
      ],
    });
    const broker = await bootBroker(config, { logger: pino({ level: 'silent' }) });
    const url = await broker.listen();
    try {
      await createPasswordUser(broker, { email: 'ann@example.com', password: PW });
      await createPasswordUser(broker, { email: 'bob@example.com', password: PW, totp: true });
      const { verifier, challenge } = pkce();
      const back = await authorize(
        client(url),
        authorizeUrl({
          client_id: 'web',
          redirect_uri: REDIRECT,
          scope: 'openid offline_access',
          code_challenge: challenge,
          code_challenge_method: 'S256',
        }),
      );
      const tokens = await postForm(
        url,
        '/oauth/token',
        { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier },
        basic('web', SECRET),
      );
      expect(tokens.status).toBe(200);
      const refreshed = await postForm(
        url,
        '/oauth/token',
        { grant_type: 'refresh_token', refresh_token: String(tokens.body.refresh_token) },
        basic('web', SECRET),
      );
      expect(refreshed.status).toBe(200);
    } finally {
      await broker.stop();
    }
    // An event of a plugin that is no longer installed: nobody here can say which of its fields are secret.
    const store = await SqliteEventStore.open({ path: path.join(dir, 'broker.db'), synchronous: 'FULL' });
    await store.append('retired-1', [
      { type: 'RetiredPluginTokenIssued', data: { tokenHash: 'f'.repeat(64) }, metadata: { actor: 'test' } } as unknown as NewEvent,
    ]);
    for (const e of await store.readAll({ limit: 100000 })) {
      const d = e.data as Record<string, unknown>;
      const pick = (...keys: string[]) =>
        (secrets[e.type] ??= []).push(...keys.flatMap((k) => (d[k] == null ? [] : [d[k]].flat().map(String))));
      if (e.type === 'PasswordSet') pick('passwordHash');
      if (e.type === 'TotpEnrolled') pick('secretCipher', 'recoveryCodeHashes');
      if (e.type === 'GrantIssued') pick('refreshTokenHash');
      if (e.type === 'RefreshTokenRotated') pick('previousHash', 'newHash');
      if (e.type === 'ClientRegistered') pick('secretHash');
      if (e.type === 'SigningKeyGenerated') pick('privateJwe');
      if (e.type === 'RetiredPluginTokenIssued') pick('tokenHash');
    }
    await store.close();
  }, 60_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('redacts every declared secret by default, and the SIEM check still passes', { timeout: 60_000 }, async () => {
    // Every kind of secret was written, so the test would see one that leaks.
    for (const t of [
      'PasswordSet',
      'TotpEnrolled',
      'GrantIssued',
      'RefreshTokenRotated',
      'ClientRegistered',
      'SigningKeyGenerated',
      'RetiredPluginTokenIssued',
    ]) {
      expect(secrets[t]?.length, t).toBeGreaterThan(0);
    }
    const r = await runCli(['events', 'export', '--jsonl'], { BROKER_DATA_DIR: dir });
    expect(r.code, r.stderr).toBe(0);
    for (const value of Object.values(secrets).flat()) expect(r.stdout).not.toContain(value);
    expect(r.stdout).not.toContain('$argon2id$');

    const lines = parse(r.stdout);
    const redactedOf = (type: string) => lines.filter((e) => e.type === type).map((e) => e.redacted);
    expect(redactedOf('PasswordSet')).toEqual([['data.passwordHash'], ['data.passwordHash']]);
    expect(redactedOf('TotpEnrolled')).toEqual([['data.secretCipher', 'data.recoveryCodeHashes']]);
    expect(redactedOf('GrantIssued')).toEqual([['data.refreshTokenHash']]);
    expect(redactedOf('RefreshTokenRotated')).toEqual([['data.previousHash', 'data.newHash']]);
    expect(redactedOf('SigningKeyGenerated').every((x) => x?.[0] === 'data.privateJwe')).toBe(true);
    expect(redactedOf('RetiredPluginTokenIssued')).toEqual([['data']]);
    const grant = lines.find((e) => e.type === 'GrantIssued')!;
    expect(grant.data).toMatchObject({ clientId: 'web', scope: 'openid offline_access', refreshTokenHash: '[redacted]' });
    expect(lines.find((e) => e.type === 'RetiredPluginTokenIssued')!.data).toBe('[redacted]');
    expect(redactedOf('UserRegistered').every((x) => x === undefined)).toBe(true);

    const check = siemCheck(lines);
    expect(check.problems).toEqual([]);
    expect(check.recomputed).toBe(lines.filter((e) => !e.redacted).length);
    expect(check.recomputed).toBeGreaterThanOrEqual(7); // UserRegistered, LoginSucceeded, ConsentGranted...
  });

  it('--include-secrets exports the envelopes as stored, each hash recomputable, with a warning', { timeout: 60_000 }, async () => {
    const r = await runCli(['events', 'export', '--jsonl', '--include-secrets'], { BROKER_DATA_DIR: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: --include-secrets/);
    for (const value of Object.values(secrets).flat()) expect(r.stdout).toContain(value);
    const lines = parse(r.stdout);
    expect(lines.some((e) => e.redacted)).toBe(false);
    const check = siemCheck(lines);
    expect(check.problems).toEqual([]);
    expect(check.recomputed).toBe(lines.length);
  });
});
