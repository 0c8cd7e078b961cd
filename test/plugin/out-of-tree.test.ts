import { afterAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The example plugin package (plugins/example/package) as an integrator has it: in a folder of its
 * own outside the repo, with `identity-broker` installed in its node_modules (a link to a compiled
 * broker, as `npm link` or a file: dependency makes it). It must type-check against the public entry
 * alone (`exports` hides the rest), pass its own tests written with the exported helpers, and load
 * into the compiled broker (what `npm start` runs) by package name from a deployment folder's config,
 * then serve its admin route and run its reactor.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-out-of-tree-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      args,
      { cwd, maxBuffer: 16 << 20, env: { PATH: process.env.PATH, HOME: process.env.HOME } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    ),
  );
}

function link(target: string, at: string): void {
  fs.mkdirSync(path.dirname(at), { recursive: true });
  fs.symlinkSync(target, at, 'dir');
}

async function until<T>(what: string, ms: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a plugin in its own package', () => {
  it(
    'type-checks against identity-broker/plugin alone, passes its tests, and serves from the compiled broker',
    { timeout: 180_000 },
    async () => {
      // The broker, compiled once as `npm start` compiles it, laid out as an installed package.
      const broker = path.join(tmp, 'identity-broker');
      fs.mkdirSync(broker);
      fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(broker, 'package.json'));
      link(path.join(ROOT, 'node_modules'), path.join(broker, 'node_modules'));
      const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
      const build = await run(
        [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(broker, 'dist'), '--sourceMap', 'false'],
        ROOT,
      );
      expect(build.output).toBe('');
      expect(fs.existsSync(path.join(broker, 'dist/plugin/index.d.ts'))).toBe(true);

      // The plugin package, copied out of the repo, with its dependencies installed (linked).
      const pkg = path.join(tmp, 'login-stats');
      fs.cpSync(path.join(ROOT, 'plugins/example/package'), pkg, {
        recursive: true,
        filter: (src) => !/[\\/](node_modules|dist)$/.test(src),
      });
      link(broker, path.join(pkg, 'node_modules/identity-broker'));
      for (const dep of ['typescript', 'vitest', '@types/node'])
        link(path.join(ROOT, 'node_modules', dep), path.join(pkg, 'node_modules', dep));

      // Its sources name nothing of the broker but the public entry (and `exports` would refuse a deep path).
      const sources = ['src', 'test'].flatMap((d) => fs.readdirSync(path.join(pkg, d)).map((f) => path.join(pkg, d, f)));
      const specifiers = sources.flatMap((f) =>
        [...fs.readFileSync(f, 'utf8').matchAll(/(?:from|import|declare module) '([^']+)'/g)].map((m) => m[1]),
      );
      expect(specifiers.filter((s) => !s.startsWith('./') && !s.startsWith('../') && s !== 'vitest')).toEqual(
        expect.arrayContaining(['identity-broker/plugin']),
      );
      for (const s of specifiers) expect(s).toMatch(/^(\.\.?\/|vitest$|identity-broker\/plugin(\/testing)?$)/);

      const [typecheck, compiled] = await Promise.all([
        run([tsc, '-p', 'tsconfig.json'], pkg),
        run([tsc, '-p', 'tsconfig.build.json'], pkg),
      ]);
      expect(typecheck.output).toBe('');
      expect(compiled.output).toBe('');
      // Its own tests (the exported helpers, from the compiled broker) run while the deployment below starts.
      const tests = run([path.join(pkg, 'node_modules/vitest/vitest.mjs'), 'run'], pkg);

      // A deployment: a config file whose folder has the plugin installed by package name.
      const deploy = path.join(tmp, 'deploy');
      link(pkg, path.join(deploy, 'node_modules/broker-plugin-login-stats'));
      const notices: unknown[] = [];
      const hook = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          notices.push(JSON.parse(body));
          res.end();
        });
      });
      await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
      const hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/notice`;
      const token = randomBytes(24).toString('base64url');
      fs.writeFileSync(
        path.join(deploy, 'broker.yaml'),
        [
          'dataDir: ./data',
          `secrets: { masterKey: "${randomBytes(32).toString('hex')}" }`,
          `admin: { apiTokens: [{ name: ci, tokenHash: "${createHash('sha256').update(token).digest('hex')}" }] }`,
          'plugins:',
          '  - name: broker-plugin-login-stats',
          `    config: { path: /stats, notifyUrl: "${hookUrl}" }`,
          '',
        ].join('\n'),
      );
      const child = spawn(
        process.execPath,
        [path.join(broker, 'dist/adapters/cli/main.js'), 'start', '--config', path.join(deploy, 'broker.yaml')],
        {
          cwd: os.tmpdir(), // not the deployment folder: the plugin is found from the config file's folder
          env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', BROKER_DATA_DIR: path.join(deploy, 'data') },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (b) => (output += b));
      child.stderr.on('data', (b) => (output += b));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      try {
        const url = await until(
          'the broker to listen',
          30_000,
          () => /broker listening on (http:\/\/[^\s]+)/.exec(output)?.[1] ?? (child.exitCode !== null ? 'exited' : undefined),
        );
        expect(url, output).not.toBe('exited');
        const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

        expect((await fetch(`${url}/stats/admin`)).status).toBe(401);
        const reset = await fetch(`${url}/stats/admin/reset`, {
          method: 'POST',
          headers: auth,
          body: JSON.stringify({ reason: 'out of tree' }),
        });
        expect(reset.status).toBe(200);
        const stats = await fetch(`${url}/stats/admin`, { headers: auth });
        expect(await stats.json()).toMatchObject({ users: [], resets: 1 });
        // The reactor saw the plugin's own event and told the outside world.
        const notice = await until('the reset notice', 10_000, () => notices[0]);
        expect(notice).toMatchObject({ type: 'login-stats.reset', by: 'admin-token:ci', reason: 'out of tree' });
      } finally {
        child.kill('SIGTERM');
        hook.close();
      }
      const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000))]);
      if (code === 'hung') child.kill('SIGKILL');
      expect(code, output).toBe(0);
      const ran = await tests;
      expect(ran.output).toMatch(/Tests\s.*3 passed/);
      expect(ran.code).toBe(0);

      // One registry per process however many copies of the core are loaded: a second instance of the
      // compiled modules (another URL) shares the event types and the DomainError brand with the first.
      const dist = pathToFileURL(path.join(broker, 'dist/core')).href;
      const probe = await run(
        [
          '--input-type=module',
          '-e',
          `const a = await import('${dist}/events/schema-versions.js'); const b = await import('${dist}/events/schema-versions.js?copy');
         b.defineEvent('OnlyInCopyB', 1);
         const ea = await import('${dist}/errors.js'); const eb = await import('${dist}/errors.js?copy');
         console.log(JSON.stringify({ seen: a.isKnownEventType('OnlyInCopyB'), distinct: a !== b, error: new eb.DomainError('forbidden', 'x') instanceof ea.DomainError, sub: new eb.NotFound('x') instanceof ea.InvalidInput }));`,
        ],
        tmp,
      );
      expect(JSON.parse(probe.output)).toEqual({ seen: true, distinct: true, error: true, sub: false });

      // The compiled broker loads JavaScript only: a plugin named by its TypeScript source is refused
      // with a message that says what to do, not a loader stack trace.
      const source = pathToFileURL(path.join(pkg, 'src/index.ts')).href;
      const tsPlugin = await run(
        [
          '--input-type=module',
          '-e',
          `const { resolvePlugin } = await import('${pathToFileURL(path.join(broker, 'dist/adapters/kernel/resolve-plugin.js')).href}');
         await resolvePlugin({ name: './src/index.ts', module: '${source}' }).then(() => console.log('loaded'), (e) => console.log(e.name + ': ' + e.message));`,
        ],
        tmp,
      );
      expect(tsPlugin.output.trim()).toBe(
        `ConfigError: plugin ./src/index.ts: ${source} is TypeScript source; compile the plugin to JavaScript (ESM) and name the .js file`,
      );
    },
  );
});
