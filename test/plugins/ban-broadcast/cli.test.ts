import { describe, it, expect, afterEach } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../../adapters/cli/cli.js';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { captureIo } from '../../adapters/cli/capture-io.js';
import { startReceiver, until, secretFor } from './receivers.js';
import { bootWith, site, banSomeone, eventsOf } from './setup.js';

describe('broker bans (CLI)', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it(
    'lists deliveries per ban and site from the log, and re-queues one that the running broker then sends',
    { timeout: 30_000 },
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ban-cli-'));
      cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
      const good = await startReceiver(secretFor(0));
      const bad = await startReceiver(secretFor(1), (n, _q, res) => void res.writeHead(n === 0 ? 403 : 204).end());
      cleanup.push(
        () => good.close(),
        () => bad.close(),
      );
      const store = await SqliteEventStore.open({ path: path.join(dir, 'broker.db'), synchronous: 'NORMAL' });
      const broker = await bootWith([site('good', good.url, secretFor(0)), site('bad', bad.url, secretFor(1))], undefined, store);
      cleanup.push(() => broker.stop());
      const { userId, ban } = await banSomeone(broker);
      await until(
        async () => (await eventsOf(store, 'BanNotificationAbandoned')).length === 1 && good.acked.length === 1,
        5000,
        'outcomes',
      );

      const run = async (...argv: string[]) => {
        // The broker's master key (it opens the data keys of personal fields), as an operator's config file gives it.
        fs.writeFileSync(path.join(dir, 'broker.yaml'), `secrets:\n  masterKey: ${'k'.repeat(32)}\n`);
        const io = captureIo({ BROKER_DATA_DIR: dir, BROKER_CONFIG: path.join(dir, 'broker.yaml') }, dir);
        const code = await runCli(argv, io);
        return { code, stdout: io.output(), stderr: io.errors() };
      };
      const table = await run('bans', 'deliveries');
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(new RegExp(`${ban.id}\\s+user.banned\\s+${userId}\\s+good\\s+delivered\\s+1\\s+acknowledged`));
      expect(table.stdout).toMatch(/bad\s+abandoned\s+1\s+gave up: http_403/);
      const json = JSON.parse((await run('bans', 'deliveries', userId, '--json')).stdout);
      expect(json).toHaveLength(1);
      expect(json[0].sites.good.status).toBe('delivered');
      expect((await run('bans', 'deliveries', 'nobody-else')).code).toBe(1);

      expect((await run('bans', 'redeliver', ban.id, 'nosuchsite')).code).toBe(1);
      const redo = await run('bans', 'redeliver', ban.id, 'bad');
      expect(redo.code).toBe(0);
      await until(() => bad.acked.length === 1, 10_000, 'the redelivery from the running broker');
      expect(bad.received[1].headers['webhook-id']).toBe(ban.id);
      expect(bad.received[1].verified).toBe(true);
    },
  );
});
