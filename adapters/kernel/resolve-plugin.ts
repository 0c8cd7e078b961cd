import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BrokerPlugin } from '../../core/index.js';
import type { BrokerConfig } from '../../config/types.js';
import { ConfigError } from '../../config/errors.js';
import { BUILTIN_PLUGINS } from './builtin-plugins.js';

/** A configured plugin: its name as written, and (set by loadConfig) the file URL it resolved to. */
export interface PluginEntry {
  name: string;
  module?: string;
}

// The broker's own install (the folder above core/, adapters/...; dist/ in the compiled build).
const BROKER_DIR = path.dirname(fileURLToPath(import.meta.url));

/**
 * Where a plugin that is not built in lives, as a file URL: a path (`./plugins/x.js`, `/opt/x.js`)
 * relative to `baseDir`, or a package name (`@acme/broker-magic-link`, with an optional subpath)
 * installed in `node_modules` of `baseDir` or a folder above it, else beside the broker itself.
 * `baseDir` is the config file's folder: a plugin is found where its config names it. A path is not
 * checked here (the CLI reads a log with a plugin missing); a package that is nowhere throws a
 * ConfigError.
 */
export function locatePlugin(name: string, baseDir: string): string {
  if (name.startsWith('file:')) return name;
  if (name.startsWith('.') || path.isAbsolute(name)) return pathToFileURL(path.resolve(baseDir, name)).href;
  const parts = name.split('/');
  const pkg = name.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  const sub = name.slice(pkg.length); // '' or '/subpath'
  for (const start of [path.resolve(baseDir), BROKER_DIR]) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      const root = path.join(dir, 'node_modules', pkg);
      if (fs.existsSync(path.join(root, 'package.json'))) return pathToFileURL(packageEntry(root, pkg, sub)).href;
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new ConfigError(
    `plugin ${name}: not a built-in plugin (${Object.keys(BUILTIN_PLUGINS).join(', ')}) and no package ${pkg} in node_modules of ${baseDir}, a folder above it, or the broker's own`,
  );
}

// Node's ESM conditions for `import` (nodejs.org/api/packages.html#conditional-exports).
const CONDITIONS = ['node', 'import', 'default'];

function pickTarget(target: unknown): string | null {
  if (typeof target === 'string') return target;
  if (Array.isArray(target)) {
    for (const t of target) {
      const r = pickTarget(t);
      if (r) return r;
    }
    return null;
  }
  if (target && typeof target === 'object') {
    for (const [k, v] of Object.entries(target)) {
      if (!CONDITIONS.includes(k)) continue;
      const r = pickTarget(v);
      if (r) return r;
    }
  }
  return null;
}

/** The file a package's `exports` (or `main`, or index.js) gives for `sub` ('' or '/x'), as `import` would. */
function packageEntry(root: string, pkg: string, sub: string): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { exports?: unknown; main?: string };
  const { exports } = manifest;
  if (exports !== undefined && exports !== null) {
    const bySubpath = typeof exports === 'object' && !Array.isArray(exports) && Object.keys(exports).some((k) => k.startsWith('.'));
    const target = bySubpath ? pickTarget((exports as Record<string, unknown>)[`.${sub}`]) : sub ? null : pickTarget(exports);
    if (!target) throw new ConfigError(`plugin ${pkg}${sub}: the package's "exports" has no "${`.${sub}`}" for import`);
    return path.join(root, target);
  }
  if (sub) return path.join(root, sub);
  return path.join(root, manifest.main ?? 'index.js');
}

/**
 * A configured plugin: a built-in one by name, else the module `locatePlugin` finds (from the config
 * file's folder when loadConfig set `module`, else from the working directory), whose default
 * export is the plugin. Plugins are ES modules.
 */
export async function resolvePlugin(entry: PluginEntry | string): Promise<BrokerPlugin<any, any>> {
  const { name, module } = typeof entry === 'string' ? { name: entry, module: undefined } : entry;
  const load = BUILTIN_PLUGINS[name];
  let mod: { default?: BrokerPlugin<any, any> };
  if (load) mod = await load();
  else {
    const url = module ?? locatePlugin(name, process.cwd());
    if (url.startsWith('file:') && !fs.existsSync(fileURLToPath(url))) {
      throw new ConfigError(`plugin ${name}: no file ${fileURLToPath(url)} (a path is relative to the config file's folder)`);
    }
    try {
      mod = (await import(url)) as { default?: BrokerPlugin<any, any> };
    } catch (e) {
      // The compiled broker (`npm start`) runs plain node: it cannot load TypeScript source.
      if ((e as NodeJS.ErrnoException).code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[mc]?ts$/.test(url)) {
        throw new ConfigError(`plugin ${name}: ${url} is TypeScript source; compile the plugin to JavaScript (ESM) and name the .js file`);
      }
      throw e;
    }
  }
  if (!mod.default || typeof mod.default.register !== 'function')
    throw new ConfigError(`plugin ${name}: module has no default BrokerPlugin export`);
  return mod.default;
}

/**
 * Registers every event type the server would know with this config: the kernel's own (signing
 * keys) and each configured plugin's, which a plugin module defines when it is imported (its
 * events.ts). Offline tools (the CLI's replay, audit verify) need this, or a plugin's events read as
 * unknown. A plugin that cannot be loaded here is returned as a message, not thrown: reading a log
 * should not depend on every plugin being installed on the operator's machine.
 */
export async function loadEventCatalogs(config: Pick<BrokerConfig, 'plugins'>): Promise<string[]> {
  await import('../crypto/signing-keys.js');
  const problems: string[] = [];
  for (const p of config.plugins) {
    try {
      await resolvePlugin(p);
    } catch (e) {
      problems.push(`plugin ${p.name}: ${(e as Error).message}`);
    }
  }
  return problems;
}
