import { BUILTIN_PLUGINS } from '../adapters/kernel/builtin-plugins.js';

/**
 * The login plugins a broker loads when the config names none: a fresh `npm start` should offer a
 * password login and the admin pages. Filtered by what is registered, so the default works before
 * and after those plugins land (and in a build that leaves one out).
 */
export const DEFAULT_PLUGIN_NAMES = ['password-login', 'admin'];

export function defaultPlugins(): { name: string }[] {
  return DEFAULT_PLUGIN_NAMES.filter((n) => n in BUILTIN_PLUGINS).map((name) => ({ name }));
}

/**
 * Defaults under every config file, and the whole config when there is no file (the local demo:
 * SQLite under ./data, port 8080). config/default.yaml spells out the same values.
 *
 * Host 127.0.0.1, not 0.0.0.0: a broker nobody configured (dev cookies on plain http, a first-run
 * admin setup page) must not be reachable from the network by accident. Containers set HOST=0.0.0.0.
 */
export function baseDefaults(): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 8080, trustProxy: false },
    dataDir: './data',
    store: { kind: 'sqlite' },
    secrets: {},
    session: { absoluteSeconds: 8 * 3600, idleSeconds: 30 * 60 },
    log: { level: 'info' },
    admin: { apiTokens: [] },
    sites: [],
    plugins: defaultPlugins(),
  };
}
