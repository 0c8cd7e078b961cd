import { describe, it, expect, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fetch } from 'undici';
import { spawnBroker } from './broker-process.js';

/**
 * /readyz says "not ready" while the SQLite store cannot write, and "ready" again once it can. The
 * broker runs as a real child process; its disk fills up through RLIMIT_FSIZE (prlimit on its pid):
 * every write past byte 0 of any file then fails as on a full disk (EFBIG; node ignores SIGXFSZ).
 */
describe('/readyz while writes fail', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-readyz-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function readyz(url: string, want: number, ms: number): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const r = await fetch(`${url}/readyz`);
      const body = (await r.json()) as Record<string, unknown>;
      if (r.status === want) return body;
      if (Date.now() > deadline) throw new Error(`/readyz still ${r.status} after ${ms} ms: ${JSON.stringify(body)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  it('answers 503 with the reason while the disk is full and 200 once it has room again', { timeout: 120_000 }, async () => {
    const broker = spawnBroker({ BROKER_DATA_DIR: dir });
    try {
      const url = await broker.listening;
      expect(await readyz(url, 200, 10_000)).toMatchObject({ status: 'ready' });

      execFileSync('prlimit', ['--pid', String(broker.child.pid), '--fsize=0:unlimited']);
      const failing = await readyz(url, 503, 20_000);
      expect(failing).toMatchObject({ status: 'not_ready' });
      expect(String(failing.reason)).toMatch(/^writes are failing \(SQLITE_(FULL|IOERR)/);

      execFileSync('prlimit', ['--pid', String(broker.child.pid), '--fsize=unlimited:unlimited']);
      expect(await readyz(url, 200, 20_000)).toMatchObject({ status: 'ready' });
    } finally {
      await broker.stop();
    }
  });
});
