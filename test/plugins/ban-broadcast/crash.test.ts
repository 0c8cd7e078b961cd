import { describe, it, expect, afterEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { startReceiver, until, secretFor, type Receiver } from './receivers.js';
import { eventsOf } from './setup.js';

const root = path.resolve(__dirname, '../../..');
const fixture = path.join(__dirname, 'fixtures/broker-child.ts');

function startChild(env: Record<string, string>): { child: ChildProcess; lines: string[] } {
  const child = spawn(process.execPath, ['--import', './adapters/cli/ts-register.mjs', fixture], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  return { child, lines };
}

const exited = (c: ChildProcess): Promise<void> =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r()));

describe('ban broadcast: crash and resume', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it(
    'a broker killed (SIGKILL) mid-broadcast to 20 sites resumes after restart and every site gets the ban, same webhook-id',
    { timeout: 90_000 },
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ban-crash-'));
      cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
      // Each receiver answers after 300 ms: with 4 in flight, the broadcast takes ~1.5 s, long enough to kill it midway.
      const receivers: Receiver[] = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          startReceiver(secretFor(i), (_n, _q, res) => void setTimeout(() => res.writeHead(200).end(), 300)),
        ),
      );
      cleanup.push(() => Promise.all(receivers.map((r) => r.close())).then(() => undefined));
      const env = { DATA_DIR: dir, SITES: JSON.stringify(receivers.map((r, i) => ({ id: `site${i}`, url: r.url, secret: secretFor(i) }))) };

      const first = startChild(env);
      cleanup.push(() => void first.child.kill('SIGKILL'));
      await until(() => first.lines.includes('ready'), 60_000, 'first broker ready');
      first.child.stdin!.write('ban\n');
      await until(() => first.lines.some((l) => l.startsWith('banned ')), 10_000, 'the ban');
      const banId = first.lines.find((l) => l.startsWith('banned '))!.slice('banned '.length);
      await until(() => receivers.filter((r) => r.acked.length > 0).length >= 4, 10_000, 'a first wave acknowledged');
      first.child.kill('SIGKILL');
      await exited(first.child);
      const ackedBeforeCrash = receivers.filter((r) => r.acked.length > 0).length;
      expect(ackedBeforeCrash).toBeLessThan(20);

      const second = startChild(env);
      cleanup.push(() => void second.child.kill('SIGKILL'));
      await until(() => second.lines.includes('ready'), 60_000, 'second broker ready');
      await until(() => receivers.every((r) => r.acked.length > 0), 20_000, 'every site acknowledged after the restart');
      for (const r of receivers) {
        expect(r.received.every((x) => x.verified === true && x.headers['webhook-id'] === banId)).toBe(true);
        expect(JSON.parse(r.received[0].body).data.eventId).toBe(banId);
      }
      // At least once: only sites whose request was in flight at the kill may have had it twice.
      expect(receivers.filter((r) => r.received.length > 1).length).toBeLessThanOrEqual(4);

      // The log proves it: one Delivered per site (wait for the outcomes to be written, then stop cleanly).
      const readDelivered = async () => {
        const store = await SqliteEventStore.open({ path: path.join(dir, 'broker.db'), synchronous: 'FULL' });
        try {
          return new Set((await eventsOf(store, 'BanNotificationDelivered')).map((e) => (e.data as { siteId: string }).siteId));
        } finally {
          await store.close();
        }
      };
      await until(async () => (await readDelivered()).size === 20, 10_000, 'twenty Delivered events in the log');
      second.child.kill('SIGTERM');
      await exited(second.child);
    },
  );
});
