import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../config/load.js';
import { checkPluginConfigs } from '../../config/plugin-configs.js';

const examples = fs.readdirSync('config/examples').filter((f) => f.endsWith('.yaml'));
// The examples reference secrets by ${ENV}; give the ones without a default a value.
const env = {
  BROKER_MASTER_KEY: 'm'.repeat(48),
  FORUM_HANDOFF_SECRET: 'f'.repeat(40),
  WIKI_CLIENT_SECRET: 'w'.repeat(40),
  GOOGLE_CLIENT_SECRET: 'g'.repeat(24),
};

describe('config examples', () => {
  it('has the sqlite, postgres and full examples', () => {
    expect(examples).toEqual(expect.arrayContaining(['sqlite.yaml', 'postgres.yaml', 'full.yaml']));
  });

  it.each(examples)('%s validates against the core schema and every built-in plugin schema', async (name) => {
    const { config } = loadConfig({ argv: ['--config', path.resolve('config/examples', name)], env, cwd: '/' });
    const report = await checkPluginConfigs(config);
    expect(report.errors).toEqual([]);
  });

  it('the full example carries sites, an OAuth client and both kinds of upstream IdP', async () => {
    const { config } = loadConfig({ argv: ['--config', path.resolve('config/examples/full.yaml')], env, cwd: '/' });
    expect(config.sites.map((s) => s.id)).toEqual(['forum', 'shop']);
    expect(config.plugins.map((p) => p.name)).toEqual(expect.arrayContaining(['oauth-server', 'oidc', 'saml']));
    // Every plugin the example names is built in, so every section above was really checked.
    const report = await checkPluginConfigs(config);
    expect(report.notBuiltin).toEqual([]);
    expect(report.checked).toHaveLength(config.plugins.length);
  });

  it('names the path of a bad value inside a plugin section', async () => {
    const { config } = loadConfig({ argv: ['--config', path.resolve('config/examples/full.yaml')], env, cwd: '/' });
    const i = config.plugins.findIndex((p) => p.name === 'oauth-server');
    (config.plugins[i].config as { clients: Record<string, unknown>[] }).clients[0].colour = 'blue';
    expect((await checkPluginConfigs(config)).errors).toContain(`plugins[${i}].config.clients[0].colour: is not a known setting`);
  });
});
