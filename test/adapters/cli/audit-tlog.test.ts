import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NoteSigner,
  entryOf,
  leafHash,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  verifyConsistency,
  verifyInclusion,
} from '../../../core/index.js';
import { runCli } from './run-cli.js';
import { spawnBroker } from './broker-process.js';

/**
 * The transparency log from the operator's side, as child processes on a real SQLite file:
 * checkpoints on demand, proofs, `audit verify` with a kept checkpoint, then a deleted ban caught
 * with its position and a start refused until the operator overrides it (which the log records).
 */
describe('broker audit checkpoint / prove / consistency / verify, and the start check', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => runCli(args, env);
  const file = (name: string) => path.join(dir, name);

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-tlog-'));
    env = { BROKER_DATA_DIR: dir };
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('proves, verifies, catches a deleted ban and refuses to start until overridden', { timeout: 300_000 }, async () => {
    const empty = await cli('audit', 'checkpoint');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('the log is empty');
    const [a, b] = await Promise.all([
      cli('users', 'add', '--email', 'alice@example.com'),
      cli('users', 'add', '--email', 'bob@example.com'),
    ]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect((await cli('users', 'ban', 'alice@example.com', '--reason', 'spam')).code).toBe(0);

    const first = await cli('audit', 'checkpoint');
    expect(first).toMatchObject({ code: 0, stderr: '' });
    fs.writeFileSync(file('kept.cp'), first.stdout);
    const vkey = parseVerifierKey(new NoteSigner('localhost/broker-log', Buffer.alloc(32)).verifierKey); // a stranger's key
    expect(openNote(first.stdout, vkey)).toBeNull();
    const kept = parseCheckpoint(first.stdout.slice(0, first.stdout.indexOf('\n\n') + 1));
    // How many events a command writes is other features' business (users add may also write an
    // invitation link): the sizes are taken from the checkpoints and checked against the export.
    const n1 = kept.size;
    expect(kept).toMatchObject({ origin: 'localhost/broker-log' });
    expect(n1).toBeGreaterThanOrEqual(5);

    expect((await cli('users', 'add', '--email', 'carol@example.com')).code).toBe(0);
    const second = await cli('audit', 'checkpoint');
    expect(second.code).toBe(0);
    const latest = parseCheckpoint(second.stdout.slice(0, second.stdout.indexOf('\n\n') + 1));
    const n2 = latest.size;
    expect(n2).toBeGreaterThan(n1);

    const [prove, consistency, verify, exported] = await Promise.all([
      cli('audit', 'prove', '3'),
      cli('audit', 'consistency', file('kept.cp')),
      cli('audit', 'verify', '--checkpoint', file('kept.cp')),
      cli('events', 'export', '--jsonl'),
    ]);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(
      new RegExp(
        `ok: ${n2} events in \\d+ streams verified, every hash chain intact; the Merkle tree \\(${n2} leaves\\) matches and so do checkpoint file`,
      ),
    );
    const events = exported.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { position: number; hash: string; type: string });
    expect(events.length).toBe(n2);
    const p = JSON.parse(prove.stdout) as { checkpoint: string; leafIndex: number; eventHash: string; proof: string[] };
    expect(p.eventHash).toBe(events[2].hash);
    expect(
      verifyInclusion(
        p.leafIndex,
        latest.size,
        leafHash(entryOf(p.eventHash)),
        p.proof.map((x) => Buffer.from(x, 'base64')),
        latest.root,
      ),
    ).toBe(true);
    const c = JSON.parse(consistency.stdout) as { oldCheckpoint: string; checkpoint: string; proof: string[] };
    expect(consistency.code).toBe(0);
    expect(
      verifyConsistency(
        kept.size,
        latest.size,
        c.proof.map((x) => Buffer.from(x, 'base64')),
        kept.root,
        latest.root,
      ),
    ).toBe(true);

    // Bad input: clear usage errors, not crashes.
    const [badPos, noFile, forged] = await Promise.all([
      cli('audit', 'prove', '0'),
      cli('audit', 'consistency', file('missing.cp')),
      (async () => {
        fs.writeFileSync(
          file('forged.cp'),
          new NoteSigner('localhost/broker-log', Buffer.alloc(32, 7)).sign(
            `localhost/broker-log\n${n1}\n${kept.root.toString('base64')}\n`,
          ),
        );
        return cli('audit', 'verify', '--checkpoint', file('forged.cp'));
      })(),
    ]);
    expect(badPos.code).toBe(2);
    expect(noFile.code).toBe(2);
    expect(forged.code).toBe(1);
    expect(forged.stderr).toContain("is not signed by this broker's checkpoint key");

    // The attacker deletes alice's ban, the last event of her stream, with plain SQL.
    const ban = events.find((e) => e.type === 'UserBanned')!;
    const db = new Database(file('broker.db'));
    expect(db.prepare('DELETE FROM events WHERE position = ?').run(ban.position).changes).toBe(1);
    db.close();

    const tampered = await cli('audit', 'verify', '--checkpoint', file('kept.cp'));
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toContain(`TAMPERED: first position affected: ${ban.position}`);

    const refused = spawnBroker(env);
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toContain(`LogContradictsCheckpoint: the event log contradicts its latest signed checkpoint (size ${n2})`);
    expect(refused.output()).toContain('--accept-log-contradiction');

    const overridden = spawnBroker(env, ['--accept-log-contradiction']);
    const url = await overridden.listening;
    const published = await fetch(`${url}/.well-known/broker-log/checkpoint`);
    expect(published.status).toBe(200);
    const note = await published.text();
    const key = (await (await fetch(`${url}/.well-known/broker-log/key`)).text()).trim();
    expect(openNote(note, parseVerifierKey(key))).not.toBeNull();
    expect(await overridden.stop()).toBe(0);
    const after = (await cli('events', 'export', '--jsonl')).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; data: { problem: string } });
    expect(after.find((e) => e.type === 'LogContradictionOverridden')).toMatchObject({
      type: 'LogContradictionOverridden',
      data: { problem: `the event at position ${ban.position} is gone (deleted or truncated)` },
    });
    // The override issued a checkpoint of the log as it is now: the next start passes the check.
    const again = spawnBroker(env);
    await again.listening;
    expect(await again.stop()).toBe(0);
  });
});
