import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../../adapters/cli/cli.js';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { CommandHandler, Users } from '../../../core/index.js';
import { captureIo } from './capture-io.js';
import { openedStore } from '../../helpers/opened-store.js';
import { Keys, loadMasterKey } from '../../../adapters/kernel/master-key.js';

/** `broker identities link|unlink`: what `explicit` provisioning relies on (seed 002). */
describe('broker identities', () => {
  let dir: string;
  let userId: string;
  const run = async (...argv: string[]) => {
    const io = captureIo({ BROKER_DATA_DIR: dir }, dir);
    const code = await runCli(argv, io);
    return { code, stdout: io.output(), stderr: io.errors() };
  };
  const withStore = async <T>(fn: (users: Users) => Promise<T>): Promise<T> => {
    const store = await SqliteEventStore.open({ path: path.join(dir, 'broker.db'), synchronous: 'FULL' });
    try {
      // As the CLI opens it: personal fields sealed, reservations named by HMAC under the node's master key.
      const opened = openedStore(store, { dataDir: dir });
      return await fn(new Users(opened, new CommandHandler(opened), new Keys(loadMasterKey(undefined, dir)).derive('reservations')));
    } finally {
      await store.close();
    }
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-ids-'));
    userId = await withStore(async (users) => (await users.register({ email: 'lee@example.com' }, { actor: 'test' })).userId);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('links by email, finds the user by sub@issuer, lists, then unlinks', async () => {
    const link = await run('identities', 'link', 'lee@example.com', 'https://idp.example/saml', 'lee-77');
    expect(link.code).toBe(0);
    expect(link.stdout).toContain(`linked lee-77 @ https://idp.example/saml to user ${userId}`);
    expect(await withStore((u) => u.findByIdentity('https://idp.example/saml', 'lee-77'))).toBe(userId);
    expect((await run('identities', 'list', userId)).stdout).toContain('lee-77\thttps://idp.example/saml');
    expect((await run('identities', 'link', userId, 'https://idp.example/saml', 'lee-77')).stdout).toContain('is already linked to user');
    const unlink = await run('identities', 'unlink', userId, 'https://idp.example/saml', 'lee-77');
    expect(unlink.code).toBe(0);
    expect(await withStore((u) => u.findByIdentity('https://idp.example/saml', 'lee-77'))).toBeNull();
  });

  it('refuses to link an identity another user holds, and explains bad usage', async () => {
    const other = await withStore(async (users) => (await users.register({ email: 'max@example.com' }, { actor: 'test' })).userId);
    expect((await run('identities', 'link', other, 'https://idp.example/saml', 'shared')).code).toBe(0);
    const clash = await run('identities', 'link', 'lee@example.com', 'https://idp.example/saml', 'shared');
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/already linked/);
    const usage = await run('identities', 'link', 'lee@example.com');
    expect(usage.code).toBe(2);
    expect((await run('identities', 'link', 'nobody@example.com', 'i', 's')).code).toBe(1);
  });
});
