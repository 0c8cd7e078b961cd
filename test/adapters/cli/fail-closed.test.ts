import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { encryptDir } from '../../../adapters/crypto/key-cipher.js';
import { Keys } from '../../../adapters/kernel/master-key.js';
import { CommandHandler, Users } from '../../../core/index.js';
import { runCli } from './run-cli.js';
import { spawnBroker } from './broker-process.js';

/**
 * `broker start` fails closed, as a real child process: a bad master key (from any source), a key
 * that cannot open the log's encrypted material, a second broker on the same SQLite file and a
 * hostile YAML file each stop the start with a message naming the cause.
 */
describe('broker start fails closed', () => {
  let root: string;
  const mode = (p: string) => fs.statSync(p).mode & 0o777;

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-fail-closed-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('exits 2 naming master.key when it is empty, short or not hex, and creates no store', { timeout: 120_000 }, async () => {
    const cases = [
      ['empty', '\n', /master\.key: the master key file is empty/],
      ['short', 'abcd1234\n', /master\.key: the master key is 4 bytes; it must be at least 32/],
      ['not-hex', 'z'.repeat(64) + '\n', /master\.key: the master key file is not hex/],
    ] as const;
    const runs = await Promise.all(
      cases.map(async ([name, text]) => {
        const dir = path.join(root, `key-${name}`);
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, 'master.key'), text, { mode: 0o600 });
        return { dir, r: await runCli(['start'], { BROKER_DATA_DIR: dir, PORT: '0' }) };
      }),
    );
    for (const [i, [name, , message]] of cases.entries()) {
      const { dir, r } = runs[i];
      expect(r.code, name).toBe(2);
      expect(r.stderr, name).toMatch(message);
      expect(r.stderr, name).toContain(path.join(dir, 'master.key'));
      expect(r.stdout, name).not.toContain('listening');
      expect(fs.existsSync(path.join(dir, 'broker.db')), name).toBe(false);
    }
  });

  it(
    'runs one broker per SQLite file, with a private data directory; a wrong master key then stops the start',
    { timeout: 180_000 },
    async () => {
      const dir = path.join(root, 'data');
      const env = { BROKER_DATA_DIR: dir };
      const first = spawnBroker(env);
      try {
        await first.listening;
        expect(mode(dir)).toBe(0o700);
        expect(mode(path.join(dir, 'broker.db'))).toBe(0o600);
        expect(mode(path.join(dir, 'broker.db-wal'))).toBe(0o600);
        expect(mode(path.join(dir, 'master.key'))).toBe(0o600);

        // A second broker on the same file is refused while the first lives...
        const second = await runCli(['start'], { ...env, PORT: '0' });
        expect(second.code).toBe(1);
        expect(second.stderr).toContain(`another broker is already running on ${path.join(dir, 'broker.db')}`);
        expect(second.stdout).not.toContain('listening');
        // ...while the offline commands still read and write the log beside it.
        const added = await runCli(['users', 'add', '--email', 'carol@example.com'], env);
        expect(added).toMatchObject({ code: 0, stderr: '' });
      } finally {
        // SIGKILL: the lock must die with the process, leaving nothing stale behind.
        first.child.kill('SIGKILL');
        await first.exited;
      }

      const restarted = spawnBroker(env);
      await restarted.listening;
      expect(await restarted.stop()).toBe(0);

      // The log now holds a signing key encrypted under this master key; another valid key cannot open it.
      fs.writeFileSync(path.join(dir, 'master.key'), randomBytes(32).toString('hex') + '\n');
      const wrongKey = await runCli(['start'], { ...env, PORT: '0' });
      expect(wrongKey.code).toBe(2);
      expect(wrongKey.stderr).toMatch(
        new RegExp(`config error: ${path.join(dir, 'master.key')}: cannot decrypt signing key \\S+ in the event log`),
      );
      // The broker listens before its read models catch up (only health and readiness answer, every
      // other route is 503 until ready); the key check stops it before it is ever ready.
    },
  );

  it('exits 2 when secrets.masterKey cannot decrypt a TOTP secret in the log', { timeout: 120_000 }, async () => {
    const dir = path.join(root, 'totp');
    const store = await SqliteEventStore.open({ path: path.join(dir, 'broker.db') });
    const users = new Users(store, new CommandHandler(store));
    const { userId } = await users.register({ email: 'dora@example.com', name: null, via: 'test' }, { actor: 'test' });
    const written = new Keys(randomBytes(32));
    await users.execute(
      userId,
      {
        type: 'enrollTotp',
        secretCipher: encryptDir('JBSWY3DPEHPK3PXP', written.derive('totp-secret'), 'totp-secret'),
        recoveryCodeHashes: [],
      },
      { actor: 'test' },
    );
    await store.close();

    const cfg = path.join(dir, 'broker.yaml');
    fs.writeFileSync(cfg, 'secrets:\n  masterKey: ${MK}\n');
    const r = await runCli(['start', '--config', cfg], { BROKER_DATA_DIR: dir, PORT: '0', MK: randomBytes(32).toString('hex') });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`config error: secrets.masterKey: cannot decrypt the TOTP secret of user ${userId} in the event log`);
    // The broker listens before its read models catch up (only health and readiness answer, every
    // other route is 503 until ready); the key check stops it before it is ever ready.
  });

  it('exits 2 with a config error on a "billion laughs" YAML file', { timeout: 60_000 }, async () => {
    let yaml = 'x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
    for (let i = 1; i <= 9; i++)
      yaml += `x${i}: &x${i} [${Array(9)
        .fill(`*x${i - 1}`)
        .join(', ')}]\n`;
    const cfg = path.join(root, 'laughs.yaml');
    fs.writeFileSync(cfg, yaml);
    const r = await runCli(['start', '--config', cfg], { BROKER_DATA_DIR: path.join(root, 'laughs'), PORT: '0' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/config error: .*laughs\.yaml: YAML: Excessive alias count/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
