import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { ROOT, runCli } from './run-cli.js';

/**
 * The operator CLI end to end, as real child processes on one real SQLite file: register, ban,
 * replay, audit, export, verify; then tamper with a row behind the broker's back and watch
 * `audit verify` catch it. Read-only steps run in parallel to keep the file fast.
 */
describe('broker CLI as a child process on a real SQLite file', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => runCli(args, env);

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-cli-'));
    env = { BROKER_DATA_DIR: dir };
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  // Nine child processes; each is ~1 s of CPU, more on a loaded machine.
  it('registers, bans, replays, audits, exports and verifies; then catches a tampered row', { timeout: 120_000 }, async () => {
    const [a, b] = await Promise.all([
      cli('users', 'add', '--email', 'Alice@Example.com', '--name', 'Alice'),
      cli('users', 'add', '--email', 'bob@example.com', '--admin'),
    ]);
    expect(a).toMatchObject({ code: 0, stderr: '' });
    expect(b.code).toBe(0);
    const alice = a.stdout.split('\n')[0];
    expect(alice).toMatch(/^[0-9a-f-]{36}$/);
    expect(fs.existsSync(path.join(dir, 'broker.db'))).toBe(true);

    const ban = await cli('users', 'ban', 'alice@example.com', '--reason', 'spam');
    expect(ban.code).toBe(0);
    expect(ban.stdout).toContain(`banned ${alice}`);

    const [replay, audit, auditJson, exported, verify] = await Promise.all([
      cli('replay'),
      cli('audit', 'user', 'alice@example.com'),
      cli('audit', 'user', alice, '--json'),
      cli('events', 'export', '--jsonl'),
      cli('audit', 'verify'),
    ]);

    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/replayed 7 events \(position 7 of 7\) in \d+ ms: \d+ events\/s/);
    expect(replay.stdout).toMatch(/users\s+2\n/);
    expect(replay.stdout).toMatch(/banned\s+1\n/);

    expect(audit.code).toBe(0);
    expect(audit.stdout).toMatch(/position\s+time\s+type\s+actor\s+summary/);
    expect(audit.stdout).toMatch(/UserRegistered\s+cli:\S+\s+email=alice@example.com name=Alice/);
    expect(audit.stdout).toMatch(new RegExp(`UserBanned\\s+cli:${os.userInfo().username}\\s+reason=spam`));
    const timeline = JSON.parse(auditJson.stdout).events as { type: string; eventId: string; position: number }[];
    expect(timeline.map((e) => e.type)).toEqual(['ReservationClaimed', 'UserRegistered', 'PasswordLinkIssued', 'UserBanned']);

    expect(exported.code).toBe(0);
    const lines = exported.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((e) => e.position)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // The invitation links' secrets are hashes, and the export withholds even those.
    expect(
      lines
        .filter((e) => e.type === 'PasswordLinkIssued')
        .every((e) => e.data.tokenHash !== undefined && !/^[0-9a-f]{64}$/.test(String(e.data.tokenHash))),
    ).toBe(true);
    expect(lines.every((e) => typeof e.hash === 'string' && typeof e.id === 'string')).toBe(true);

    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/ok: 7 events in 6 streams verified, every hash chain intact/);

    const banned = timeline.find((e) => e.type === 'UserBanned')!;
    const db = new Database(path.join(dir, 'broker.db'));
    const changed = db.prepare("UPDATE events SET data = json_set(data,'$.reason','edited') WHERE type='UserBanned'").run().changes;
    db.close();
    expect(changed).toBe(1);

    const tampered = await cli('audit', 'verify');
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toContain(
      `TAMPERED: hash chain broken at stream user-${alice} revision 1 (position ${banned.position}, event ${banned.eventId}): hash mismatch`,
    );
  });

  it('exits 2 on a config error, naming the path, without a stack trace', { timeout: 60_000 }, async () => {
    const cfg = path.join(dir, 'bad.yaml');
    fs.writeFileSync(cfg, 'server:\n  port: high\n');
    const r = await runCli(['replay'], { ...env, BROKER_CONFIG: cfg });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/config error: .*bad\.yaml: server\.port: must be integer/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('bin/broker.js runs from any working directory (dist when built, else the TS source)', { timeout: 60_000 }, async () => {
    const r = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'bin/broker.js'), 'help'], {
        cwd: os.tmpdir(),
        env: { PATH: process.env.PATH },
      });
      let stdout = '';
      child.stdout.on('data', (b) => (stdout += b));
      child.on('exit', (code) => resolve({ code, stdout }));
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/usage: broker <command>[\s\S]*events export/);
  });
});
