import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { it, expect } from 'vitest';
import Database from 'better-sqlite3';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import { ChainVerifier, type RecordedEvent } from '../../../core/index.js';
import { until } from './contract.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const script = 'test/adapters/event-stores/fixtures/sqlite-writer.ts';

it('kill -9 of a writing process: the file reopens, nothing torn, acknowledged appends kept, chains verify', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-crash-'));
  const file = path.join(dir, 'events.db');
  const child = spawn(process.execPath, ['--import', './adapters/cli/ts-register.mjs', script, file], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acked = new Map<string, number>();
  let out = '';
  let err = '';
  let exited = false;
  child.on('exit', () => (exited = true));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const lines = out.split('\n');
    out = lines.pop()!;
    for (const l of lines) {
      const [, id, size] = l.split(' ');
      acked.set(id, Number(size));
    }
  });
  try {
    // Wait until it has written a good amount (and a large batch or two), then kill mid-stream.
    await until(() => acked.size >= 300 || exited, 'the writer to commit appends', 20_000);
    expect(exited, err).toBe(false);
    child.kill('SIGKILL');
    await until(() => exited, 'the writer to die');

    const ackedBeforeKill = new Map(acked);
    // SQLite recovers the WAL on open; the integrity check proves no page is torn.
    const raw = new Database(file);
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    raw.close();

    const store = await SqliteEventStore.open({ path: file });
    try {
      const all: RecordedEvent[] = [];
      for (let after = 0; ;) {
        const page = await store.readAll({ after, limit: 5000 });
        all.push(...page);
        if (page.length < 5000) break;
        after = page[page.length - 1].position;
      }
      expect(all.length).toBeGreaterThan(300);
      // Chains verify and revisions are contiguous per stream (ChainVerifier flags gaps too).
      const v = new ChainVerifier();
      for (const e of all) v.check(e);
      expect(v.breaks).toEqual([]);
      for (let i = 1; i < all.length; i++) expect(all[i].position).toBe(all[i - 1].position + 1);
      // No append is torn: each batch is present whole or not at all.
      const perBatch = new Map<string, { size: number; count: number }>();
      for (const e of all) {
        const m = e.metadata as unknown as { batch: string; size: number };
        const b = perBatch.get(m.batch) ?? { size: m.size, count: 0 };
        b.count++;
        perBatch.set(m.batch, b);
      }
      for (const [id, b] of perBatch) expect(b.count, `batch ${id}`).toBe(b.size);
      // Every append the writer saw acknowledged survived the kill.
      for (const [id, size] of ackedBeforeKill) expect(perBatch.get(id)?.count, `acked batch ${id}`).toBe(size);
      // And the store goes on: the next append continues the chain.
      const s = all[all.length - 1].streamId;
      const last = (await store.readStream(s)).at(-1)!;
      const r = await store.append(s, [{ type: 'AccountEnabled', data: { userId: s } }], { expectedRevision: last.revision });
      expect(r.events[0].prevHash).toBe(last.hash);
    } finally {
      await store.close();
    }
  } finally {
    if (!exited) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
