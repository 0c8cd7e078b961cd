import { afterAll, afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../config/load.js';
import { ConfigError } from '../../config/errors.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';

/**
 * How the kernel finds a configured plugin that is not built in: a path relative to the config
 * file's folder (not the working directory, not the kernel's own folder), or a package installed
 * beside the config; a compiled ES module (.js) loads as it is. A bad plugin config section is
 * refused with every error, each with its key path.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-plugin-loading-'));
const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-plugin-cwd-'));
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(elsewhere, { recursive: true, force: true });
});
let running: TestBroker | null = null;
afterEach(async () => {
  await running?.stop();
  running = null;
});

// A compiled plugin: plain ESM JavaScript, as `tsc` emits it from a plugin package.
const pluginSource = (name: string, route: string) => `const plugin = {
  name: '${name}',
  configSchema: {
    type: 'object',
    properties: {
      greeting: { type: 'string', minLength: 2, default: 'hello' },
      limits: { type: 'object', properties: { perMinute: { type: 'integer', minimum: 1 } }, required: ['perMinute'], additionalProperties: false },
      mode: { enum: ['a', 'b'] },
    },
    required: ['limits'],
    additionalProperties: false,
  },
  register(ctx) {
    ctx.web.app.get('${route}', async () => ({ greeting: ctx.config.greeting, perMinute: ctx.config.limits.perMinute }));
  },
};
export default plugin;
`;

function write(rel: string, text: string): string {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

function load(yaml: string): ReturnType<typeof loadConfig>['config'] {
  const file = write(`config-${Math.random().toString(36).slice(2)}.yaml`, yaml);
  // The working directory is another folder: only the config file's folder can find the plugins.
  return loadConfig({ argv: ['--config', file], env: {}, cwd: elsewhere }).config;
}

describe('configured plugins', () => {
  it('loads a compiled .js plugin by a path relative to the config file', async () => {
    write('plugins/hello.js', pluginSource('hello', '/hello'));
    const config = load('plugins:\n  - name: ./plugins/hello.js\n    config: { greeting: hi, limits: { perMinute: 5 } }\n');
    running = await startBroker({ plugins: config.plugins });
    const res = await fetch(`${running.url}/hello`);
    expect(await res.json()).toEqual({ greeting: 'hi', perMinute: 5 });
  });

  it('loads a package installed beside the config file, through its "exports"', async () => {
    write(
      'node_modules/@acme/broker-hello/package.json',
      JSON.stringify({ name: '@acme/broker-hello', type: 'module', exports: { '.': { types: './index.d.ts', import: './lib/index.js' } } }),
    );
    write('node_modules/@acme/broker-hello/lib/index.js', pluginSource('acme-hello', '/acme'));
    const config = load('plugins:\n  - name: "@acme/broker-hello"\n    config: { limits: { perMinute: 7 } }\n');
    running = await startBroker({ plugins: config.plugins });
    expect(await (await fetch(`${running.url}/acme`)).json()).toEqual({ greeting: 'hello', perMinute: 7 });
  });

  it('refuses at load a package that is installed nowhere, naming the entry', () => {
    expect(() => load('plugins:\n  - name: broker-plugin-nowhere-xyz\n')).toThrow(
      /plugins\[0\]\.name: unknown plugin "broker-plugin-nowhere-xyz"/,
    );
  });

  it('refuses at start a path with no file, saying where it looked', async () => {
    const config = load('plugins:\n  - name: ./plugins/missing.js\n');
    const err = await startBroker({ plugins: config.plugins }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(`no file ${path.join(dir, 'plugins/missing.js')}`);
  });

  it('lists every error of a bad plugin config, each with its key path', async () => {
    write('plugins/strict.js', pluginSource('strict', '/strict'));
    const config = load(
      'plugins:\n  - name: example\n  - name: ./plugins/strict.js\n    config: { greeting: x, limits: {}, mode: c, colour: blue }\n',
    );
    const err = await startBroker({ plugins: config.plugins }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    const lines = (err as Error).message.split('\n').map((l) => l.trim());
    expect(lines[0]).toBe('plugin strict: 4 errors in its config:');
    expect(lines.slice(1).sort()).toEqual(
      [
        'plugins[1].config.colour: is not a known setting',
        'plugins[1].config.greeting: must NOT have fewer than 2 characters',
        'plugins[1].config.limits.perMinute: is required',
        'plugins[1].config.mode: must be equal to one of the allowed values (a, b)',
      ].sort(),
    );
  });
});
