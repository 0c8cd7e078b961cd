import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, configPathFrom, ConfigError } from '../../config/load.js';
import { DEFAULT_PLUGIN_NAMES } from '../../config/defaults.js';
import { BUILTIN_PLUGINS } from '../../adapters/kernel/builtin-plugins.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-config-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function loadText(text: string, env: NodeJS.ProcessEnv = {}) {
  const file = write(`c-${Math.random().toString(36).slice(2)}.yaml`, text);
  return loadConfig({ argv: ['--config', file], env, cwd: dir }).config;
}

function errorOf(text: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    loadText(text, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config defaults', () => {
  it('runs on SQLite under ./data on port 8080, loopback only, with no config at all', () => {
    const { config, file } = loadConfig({ env: {}, cwd: dir });
    expect(file).toBeNull();
    expect(config.store).toEqual({ kind: 'sqlite' });
    expect(config.dataDir).toBe(path.join(dir, 'data'));
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 8080, baseUrl: 'http://localhost:8080', insecureCookies: true });
    expect(config.session).toEqual({ absoluteSeconds: 28800, idleSeconds: 1800 });
  });

  it('defaults to the login plugins that are registered, and only those', () => {
    const { config } = loadConfig({ env: {}, cwd: dir });
    expect(config.plugins.map((p) => p.name)).toEqual(DEFAULT_PLUGIN_NAMES.filter((n) => n in BUILTIN_PLUGINS));
  });

  it('config/default.yaml describes exactly the no-config defaults', () => {
    const none = loadConfig({ env: {}, cwd: dir }).config;
    const fromFile = loadConfig({ argv: ['--config', path.resolve('config/default.yaml')], env: {}, cwd: dir }).config;
    expect(fromFile).toEqual(none);
  });

  it('fills what a file leaves out and derives baseUrl and secure cookies', () => {
    const c = loadText('server:\n  port: 9999\n  baseUrl: https://login.example.com\n');
    expect(c.server).toMatchObject({ port: 9999, host: '127.0.0.1', insecureCookies: false });
    expect(c.log.level).toBe('info');
    expect(c.store.kind).toBe('sqlite');
  });

  it('takes the file from BROKER_CONFIG, and --config wins over it', () => {
    const a = write('a.yaml', 'log: {level: warn}\n');
    const b = write('b.yaml', 'log: {level: error}\n');
    expect(loadConfig({ env: { BROKER_CONFIG: a }, cwd: dir }).config.log.level).toBe('warn');
    expect(loadConfig({ argv: [`--config=${b}`], env: { BROKER_CONFIG: a }, cwd: dir }).config.log.level).toBe('error');
    expect(configPathFrom(['start'], {})).toBeNull();
    expect(() => configPathFrom(['--config'], {})).toThrow(ConfigError);
  });
});

describe('environment overrides', () => {
  it('PORT, HOST and BROKER_DATA_DIR override the defaults', () => {
    const { config } = loadConfig({ env: { PORT: '9090', HOST: '0.0.0.0', BROKER_DATA_DIR: 'elsewhere' }, cwd: dir });
    expect(config.server.port).toBe(9090);
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.server.baseUrl).toBe('http://localhost:9090');
    expect(config.dataDir).toBe(path.join(dir, 'elsewhere'));
  });

  it('PORT, HOST and BROKER_DATA_DIR override a config file too', () => {
    const c = loadText('server:\n  host: 10.0.0.1\n  port: 7000\ndataDir: /srv/broker\n', {
      PORT: '7001',
      HOST: '::1',
      BROKER_DATA_DIR: '/tmp/x',
    });
    expect(c.server).toMatchObject({ port: 7001, host: '::1' });
    expect(c.dataDir).toBe('/tmp/x');
  });

  it('a bad PORT is named as PORT, with its value', () => {
    expect(() => loadConfig({ env: { PORT: 'eighty' }, cwd: dir })).toThrow(/environment: PORT="eighty" is not a port number/);
    expect(() => loadConfig({ env: { PORT: '70000' }, cwd: dir })).toThrow(/PORT="70000"/);
  });
});

describe('${ENV} interpolation', () => {
  it('substitutes variables and defaults, and coerces numbers', () => {
    const c = loadText(
      'server:\n  port: ${MY_PORT}\n  baseUrl: https://${HOSTNAME_X:-login.example.org}/\nsecrets:\n  masterKey: "k-${SECRET}-$${literal}"\n',
      {
        MY_PORT: '8443',
        SECRET: 's'.repeat(40),
      },
    );
    expect(c.server.port).toBe(8443);
    expect(c.server.baseUrl).toBe('https://login.example.org/');
    expect(c.secrets.masterKey).toBe(`k-${'s'.repeat(40)}-\${literal}`);
  });

  it('names the path of a missing variable that has no default', () => {
    expect(errorOf('sites:\n  - id: a\n    name: A\n    returnUrls: ["${SITE_URL}"]\n')).toMatch(
      /sites\[0\]\.returnUrls\[0\]: environment variable SITE_URL is not set/,
    );
  });

  it('cannot inject YAML structure through a variable', () => {
    const c = loadText('log:\n  level: ${LVL:-info}\nsecrets:\n  masterKey: ${MK}\n', {
      MK: 'x'.repeat(32) + '\nadmin: {apiTokens: [{name: evil}]}',
    });
    expect(c.admin.apiTokens).toEqual([]);
    expect(c.secrets.masterKey).toContain('\nadmin:');
  });
});

describe('bad values name their path', () => {
  it.each([
    ['server:\n  port: 80.5\n', /server\.port: must be integer/],
    ['server:\n  port: 70000\n', /server\.port: must be <= 65535/],
    ['server:\n  prot: 1\n', /server\.prot: is not a known setting/],
    ['store:\n  kind: mongo\n', /store\.kind: must be equal to one of the allowed values \(sqlite, memory, postgres, eventstoredb\)/],
    ['store:\n  kind: postgres\n', /store\.url: is required/],
    ['log:\n  level: loud\n', /log\.level: must be equal to one of the allowed values/],
    ['secrets:\n  masterKey: short\n', /secrets\.masterKey: must NOT have fewer than 32 characters/],
    [
      'sites:\n  - id: a\n    name: A\n    returnUrls: [https://a.example/cb]\n  - id: b\n    name: B\n    returnUrls: ["not a url"]\n',
      /sites\[1\]\.returnUrls\[0\]: must match format "uri"/,
    ],
    [
      'sites:\n  - id: a\n    name: A\n    returnUrls: [https://a.example/cb]\n    webhook: {url: https://a.example/h, secret: plain}\n',
      /sites\[0\]\.webhook\.secret: must match pattern "\^whsec_"/,
    ],
    ['sites:\n  - id: a\n    returnUrls: [https://a.example/cb]\n', /sites\[0\]\.name: is required/],
    ['plugins:\n  - config: {}\n', /plugins\[0\]\.name: is required/],
    ['admin:\n  apiTokens: [{name: t, tokenHash: plaintext-token}]\n', /admin\.apiTokens\[0\]\.tokenHash: must match pattern/],
  ])('%s', (text, expected) => {
    expect(errorOf(text)).toMatch(expected);
  });

  it('names an unknown plugin and a plugin listed twice', () => {
    expect(errorOf('plugins:\n  - name: example\n  - name: no-such-plugin-xyz\n')).toMatch(
      /plugins\[1\]\.name: unknown plugin "no-such-plugin-xyz" \(built in: .*example/,
    );
    expect(errorOf('plugins:\n  - name: example\n  - name: example\n')).toMatch(
      /plugins\[1\]\.name: plugin "example" is already listed at plugins\[0\]/,
    );
    // An installed module is accepted as a plugin specifier (whether it is a plugin is the kernel's check).
    expect(loadText('plugins:\n  - name: example\n  - name: yaml\n').plugins.map((p) => p.name)).toEqual(['example', 'yaml']);
  });

  it('reports every bad value at once, each on its own line', () => {
    const msg = errorOf('server:\n  port: x\nlog:\n  level: loud\n');
    expect(msg.split('\n').filter((l) => /^\s+(server\.port|log\.level):/.test(l))).toHaveLength(2);
  });

  it('names the line of a YAML syntax error and the file', () => {
    const file = write('broken.yaml', 'server:\n  port: 1\n   host: [\n');
    expect(() => loadConfig({ argv: ['--config', file], env: {}, cwd: dir })).toThrow(
      new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: line \\d+`),
    );
  });

  it('says when the file cannot be read', () => {
    expect(() => loadConfig({ argv: ['--config', 'missing.yaml'], env: {}, cwd: dir })).toThrow(
      /missing\.yaml: cannot read the config file \(ENOENT\)/,
    );
  });

  it('refuses a top level that is not a mapping', () => {
    expect(errorOf('- a\n- b\n')).toMatch(/top level must be a mapping/);
  });
});
