import fs from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parseDocument } from 'yaml';
import type { BrokerConfig } from './types.js';
import { brokerConfigSchema } from './schema.js';
import { baseDefaults } from './defaults.js';
import { BUILTIN_PLUGINS } from '../adapters/kernel/builtin-plugins.js';
import { locatePlugin } from '../adapters/kernel/resolve-plugin.js';
import { ConfigError } from './errors.js';
import { formatPath, interpolateEnv } from './interpolate.js';
import { describeSchemaErrors } from './schema-errors.js';

export { ConfigError } from './errors.js';

export interface LoadOptions {
  /** CLI arguments; `--config <path>` / `--config=<path>` is taken from them. */
  argv?: string[];
  env?: NodeJS.ProcessEnv;
  /** Relative dataDir and store paths resolve against this (default: process.cwd()). */
  cwd?: string;
}

export interface LoadedConfig {
  config: BrokerConfig;
  /** The file read, or null when the broker runs on defaults alone. */
  file: string | null;
}

/** `--config <path>` or `--config=<path>` from argv, else BROKER_CONFIG, else none. */
export function configPathFrom(argv: string[], env: NodeJS.ProcessEnv): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--config') {
      const next = argv[i + 1];
      if (!next || next.startsWith('--')) throw new ConfigError('--config needs a file path');
      return next;
    }
    if (a.startsWith('--config=')) return a.slice('--config='.length);
  }
  return env.BROKER_CONFIG || null;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** Objects merge key by key; arrays and scalars from the file replace the default. */
function merge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
  return out;
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const where = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : 'YAML';
    throw new ConfigError(`${file}: ${where}: ${e.message.split('\n')[0]}`);
  }
  let value: unknown;
  try {
    // yaml refuses an alias that expands past maxAliasCount (a "billion laughs" file) by throwing;
    // that is a bad config file (exit 2), not a crash. A real config needs few aliases, if any.
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(`${file}: YAML: ${(err as Error).message}`);
  }
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) throw new ConfigError(`${file}: the top level must be a mapping of settings`);
  return value;
}

const ajv = new Ajv({ allErrors: true, coerceTypes: true, strict: false });
// Absolute URLs only, parsed the way the broker will parse them (no ajv-formats dependency).
ajv.addFormat('uri', (s: string) => {
  try {
    const u = new URL(s);
    return /^[a-z][a-z0-9+.-]*:$/.test(u.protocol) && (u.protocol !== 'http:' && u.protocol !== 'https:' ? true : !!u.host);
  } catch {
    return false;
  }
});
const validate = ajv.compile<BrokerConfig>(brokerConfigSchema);

/** Validates a complete config in place (coercing `"8080"` from `${PORT}` to 8080); throws naming every bad path. */
export function validateConfig(candidate: unknown, source = 'config'): BrokerConfig {
  if (validate(candidate)) return candidate;
  const problems = describeSchemaErrors(validate.errors);
  throw new ConfigError(problems.length === 1 ? `${source}: ${problems[0]}` : `${source}:\n  ${problems.join('\n  ')}`);
}

/**
 * Each plugin entry names a built-in plugin or a module that resolves, once: caught at load time
 * with its path, rather than as a module-loader stack trace halfway through the boot. A path or a
 * package name resolves from `baseDir`, the config file's folder; the file URL found is kept in the
 * entry's `module` for the kernel to import.
 */
function checkPluginNames(config: BrokerConfig, source: string, baseDir: string): void {
  const seen = new Map<string, number>();
  for (const [i, p] of config.plugins.entries()) {
    const where = `${source}: ${formatPath(['plugins', i, 'name'])}`;
    if (seen.has(p.name)) throw new ConfigError(`${where}: plugin "${p.name}" is already listed at plugins[${seen.get(p.name)}]`);
    seen.set(p.name, i);
    if (p.name in BUILTIN_PLUGINS) continue;
    try {
      p.module = locatePlugin(p.name, baseDir);
    } catch (e) {
      throw new ConfigError(
        `${where}: unknown plugin "${p.name}" (built in: ${Object.keys(BUILTIN_PLUGINS).join(', ')}; anything else must be a path or an installed package): ${(e as Error).message}`,
      );
    }
  }
}

/**
 * Loads the broker config: defaults ← YAML file (with `${ENV}` interpolation) ← PORT, HOST and
 * BROKER_DATA_DIR from the environment (in every mode, so a container can move a configured
 * broker without editing its file), then derived values, then validation.
 */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = configPathFrom(options.argv ?? [], env);
  const fromFile = file ? interpolateEnv(readYaml(path.resolve(cwd, file)), env) : {};
  const raw = merge(baseDefaults(), fromFile) as Record<string, any>;

  if (env.PORT !== undefined && env.PORT !== '') {
    // Named here: the schema would only say `server.port`, and the file may not even set it.
    if (!/^\d{1,5}$/.test(env.PORT) || Number(env.PORT) > 65535)
      throw new ConfigError(`environment: PORT=${JSON.stringify(env.PORT)} is not a port number (0-65535)`);
    raw.server.port = env.PORT;
  }
  if (env.HOST) raw.server.host = env.HOST;
  if (env.BROKER_DATA_DIR) raw.dataDir = env.BROKER_DATA_DIR;

  if (raw.server && typeof raw.server === 'object') {
    const port = Number(raw.server.port);
    if (raw.server.baseUrl === undefined) raw.server.baseUrl = Number.isInteger(port) ? `http://localhost:${port}` : 'http://localhost';
    // Secure cookies are never sent back over plain http, so a plain-http broker needs the dev cookie.
    if (raw.server.insecureCookies === undefined) raw.server.insecureCookies = String(raw.server.baseUrl).startsWith('http://');
  }
  const config = validateConfig(raw, file ?? 'config');
  checkPluginNames(config, file ?? 'config', file ? path.dirname(path.resolve(cwd, file)) : cwd);
  config.dataDir = path.resolve(cwd, config.dataDir);
  if (config.store.path) config.store.path = path.resolve(cwd, config.store.path);
  return { config, file: file ? path.resolve(cwd, file) : null };
}
