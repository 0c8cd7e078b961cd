import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../../adapters/cli/cli.js';
import { findCommand, COMMANDS } from '../../../adapters/cli/registry.js';
import { parseUntil } from '../../../adapters/cli/commands/replay.js';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import type { NewEvent } from '../../../core/index.js';
import { captureIo } from './capture-io.js';

/** The commands in-process (same code the child process runs), for the cases that need many runs. */
describe('broker commands in-process', () => {
  let dir: string;
  const run = async (...argv: string[]) => {
    const io = captureIo({ BROKER_DATA_DIR: dir }, dir);
    const code = await runCli(argv, io);
    return { code, stdout: io.output(), stderr: io.errors() };
  };

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-cmd-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds multi-word commands by their longest name', () => {
    expect(findCommand(['events', 'export', '--jsonl'])).toMatchObject({ command: { name: 'events export' }, rest: ['--jsonl'] });
    expect(findCommand(['users', 'list'])).toMatchObject({ command: { name: 'users' }, rest: ['list'] });
    expect(findCommand(['events'])).toBeNull();
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
  });

  it('adds, bans, unbans, disables and enables through the Users service, idempotently', async () => {
    const add = await run('users', 'add', '--email', 'carol@example.com', '--name', 'Carol');
    expect(add.code).toBe(0);
    const [id, how, link] = add.stdout.trim().split('\n');
    // How the user gets in: no mail server here, so the one-time link is printed.
    expect(how).toMatch(/no mail server configured .* send this link to carol@example.com yourself/);
    expect(link).toMatch(new RegExp(`/password/set\\?token=${id}\\.`));
    expect((await run('users', 'add', '--email', 'carol@example.com')).code).toBe(1); // email taken
    expect((await run('users', 'ban', id, '--reason', 'abuse')).stdout).toContain(`banned ${id}`);
    expect((await run('users', 'ban', id, '--reason', 'again')).stdout).toContain('already banned, nothing recorded');
    expect((await run('users', 'unban', 'carol@example.com', '--reason', 'appeal')).stdout).toContain(`unbanned ${id}`);
    expect((await run('users', 'disable', id)).code).toBe(0);
    let list = JSON.parse((await run('users', 'list', '--json')).stdout);
    expect(list).toEqual([expect.objectContaining({ userId: id, banned: null, disabled: true })]);
    expect((await run('users', 'enable', id)).code).toBe(0);
    list = JSON.parse((await run('users', 'list', '--json')).stdout);
    expect(list[0].disabled).toBe(false);
    const table = await run('users', 'list');
    expect(table.stdout).toMatch(new RegExp(`${id}\\s+carol@example.com\\s+Carol\\s+active`));
    expect((await run('users', 'ban', 'nobody@example.com', '--reason', 'x')).code).toBe(1);
  });

  it('replays as of a position and as of a time', async () => {
    const all = JSON.parse((await run('replay', '--json')).stdout);
    expect(all.state.users).toBe(1);
    // Position 3 is the invitation link `users add` issued; 4 the ban.
    const beforeBan = JSON.parse((await run('replay', '--until', '4', '--json')).stdout);
    expect(beforeBan).toMatchObject({ applied: 4, state: { users: 1, banned: 1 } });
    const longAgo = JSON.parse((await run('replay', '--until', '2000-01-01T00:00:00Z', '--json')).stdout);
    expect(longAgo).toMatchObject({ applied: 0, state: { users: 0 } });
    expect(parseUntil('12')).toBe(12);
    expect(parseUntil('2026-01-31T12:00:00Z')).toEqual(new Date('2026-01-31T12:00:00Z'));
    expect(() => parseUntil('yesterday')).toThrow(/--until must be a position or an ISO time/);
  });

  it('reports an unknown event type in the log as a warning, not a failure, in verify and replay', async () => {
    const store = await SqliteEventStore.open({ path: path.join(dir, 'broker.db'), synchronous: 'FULL' });
    // A type this code never defined, as if written by a plugin that is no longer installed.
    await store.append('plugin-gone-1', [
      { type: 'RetiredPluginThing', data: { x: 1 }, metadata: { actor: 'test' } } as unknown as NewEvent,
    ]);
    await store.close();
    const verify = await run('audit', 'verify');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/every hash chain intact \(1 of unknown type or version\)/);
    expect(verify.stderr).toMatch(/warning: position \d+: unknown event type RetiredPluginThing \(stream plugin-gone-1\)/);
    const replay = await run('replay');
    expect(replay.code).toBe(0);
    expect(replay.stderr).toMatch(/1 event\(s\) of unknown type or version skipped/);
  });

  it('exits 2 with the usage on bad arguments', async () => {
    for (const argv of [
      ['users', 'ban', 'x'],
      ['users', 'list', '--jsn'],
      ['users'],
      ['audit'],
      ['events', 'export'],
      ['events', 'export', '--jsonl', '--after', '-1'],
      ['nonsense'],
      [],
    ]) {
      const r = await run(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
    }
    const r = await run('users', 'ban', 'x');
    expect(r.stderr).toMatch(/--reason is required\nusage: broker users add/);
    expect((await run('help', 'audit')).stdout).toMatch(/broker audit verify/);
  });

  it("prints any command's usage with --help, without running it", async () => {
    for (const c of COMMANDS) {
      const r = await run(...c.name.split(' '), '--help');
      expect({ name: c.name, code: r.code, out: r.stdout.startsWith('usage: broker ') }).toEqual({ name: c.name, code: 0, out: true });
    }
    const r = await run('users', 'ban', 'someone@example.com', '--reason', 'x', '--help');
    expect(r.stdout).toMatch(/^usage: broker users add/);
    expect((await run('users', 'list', '--json')).stdout).not.toContain('someone');
  });

  it('draws a progress bar on a terminal, and nothing on a pipe', async () => {
    const io = captureIo({ BROKER_DATA_DIR: dir }, dir);
    (io.stderr as unknown as { isTTY: boolean }).isTTY = true;
    expect(await runCli(['replay'], io)).toBe(0);
    expect(io.errors()).toMatch(/\rreplay \[#+\] 100% (\d+)\/\1\n/);
    const piped = await run('replay');
    expect(piped.stderr).not.toContain('replay [');
  });

  it('start: boots with the loaded config, prints the URL, serves, and stops on the signal', async () => {
    const cfg = path.join(dir, 'start.yaml');
    fs.writeFileSync(cfg, 'store: {kind: memory}\nlog: {level: silent}\nsecrets: {masterKey: "' + 'k'.repeat(32) + '"}\n');
    let stop!: (s: string) => void;
    const io = captureIo({ BROKER_DATA_DIR: dir, PORT: '0', BROKER_CONFIG: cfg }, dir, new Promise((r) => (stop = r)));
    const exit = runCli(['start'], io);
    const deadline = Date.now() + 20_000;
    while (!/listening on (http:\/\/\S+)/.test(io.output())) {
      if (Date.now() > deadline) throw new Error(`start did not print its URL: ${io.output()} ${io.errors()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const url = /listening on (http:\/\/\S+)/.exec(io.output())![1];
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    stop('SIGTERM');
    expect(await exit).toBe(0);
    expect(io.output()).toMatch(/SIGTERM: stopping[\s\S]*stopped/);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('start: a bad plugin section stops the start with exit 2, naming its path', async () => {
    const cfg = path.join(dir, 'bad-plugin.yaml');
    fs.writeFileSync(cfg, 'store: {kind: memory}\nlog: {level: silent}\nplugins:\n  - name: example\n    config: {path: no-slash}\n');
    const io = captureIo({ BROKER_DATA_DIR: dir, PORT: '0', BROKER_CONFIG: cfg }, dir);
    expect(await runCli(['start'], io)).toBe(2);
    expect(io.errors()).toMatch(/config error: plugins\[0\]\.config\.path: must match pattern/);
  });
});
