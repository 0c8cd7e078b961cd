import { describe, it, expect, afterAll } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './run-cli.js';

/**
 * What `npm install && npm start` does, minus npm: compile with tsconfig.build.json (into a temp
 * dir inside the repo, so node_modules resolves), start the compiled CLI, wait for /healthz, stop
 * it with SIGTERM. Also checks the real stdout log for secrets sent in the request.
 */
const outDir = path.join(ROOT, '.tmp', `build-test-${process.pid}-${Date.now()}`);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-build-'));
afterAll(() => {
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the production build', () => {
  it('compiles, starts from dist, answers /healthz, logs no secrets and stops on SIGTERM', { timeout: 150_000 }, async () => {
    const tsc = await new Promise<{ code: number; output: string }>((resolve) =>
      execFile(
        process.execPath,
        [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir],
        { cwd: ROOT, maxBuffer: 16 << 20 },
        (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
      ),
    );
    expect(tsc.output, 'npm start runs the build first: it must compile cleanly').toBe('');
    expect(tsc.code).toBe(0);

    const port = await freePort();
    const child = spawn(process.execPath, [path.join(outDir, 'adapters/cli/main.js'), 'start'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', BROKER_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const health = await until('/healthz', 60_000, async () => {
        const r = await fetch(`http://127.0.0.1:${port}/healthz`);
        return r.ok ? ((await r.json()) as { status: string }) : undefined;
      });
      expect(health).toEqual({ status: 'ok' });
      expect(output).toContain(`broker listening on http://127.0.0.1:${port}`);
      expect(fs.existsSync(path.join(dataDir, 'broker.db'))).toBe(true);

      await fetch(`http://127.0.0.1:${port}/login?lr=QUERY-S3CRET`, {
        headers: { cookie: 'sid=COOKIE-S3CRET', authorization: 'Bearer AUTH-S3CRET' },
      });
      await until('the request log line', 10_000, async () => (output.includes('/login?lr=[redacted]') ? true : undefined));
    } finally {
      child.kill('SIGTERM');
    }
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000))]);
    if (code === 'hung') child.kill('SIGKILL');
    expect(code).toBe(0);
    expect(output).toMatch(/SIGTERM: stopping[\s\S]*stopped/);
    for (const s of ['QUERY-S3CRET', 'COOKIE-S3CRET', 'AUTH-S3CRET']) expect(output).not.toContain(s);
  });
});
