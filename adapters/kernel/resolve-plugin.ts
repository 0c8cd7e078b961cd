import type { BrokerPlugin } from '../../core/index.js';
import type { BrokerConfig } from '../../config/types.js';
import { ConfigError } from '../../config/errors.js';
import { BUILTIN_PLUGINS } from './builtin-plugins.js';

/** A configured plugin by name: a built-in one, else a module specifier whose default export is the plugin. */
export async function resolvePlugin(name: string): Promise<BrokerPlugin<any, any>> {
  const load = BUILTIN_PLUGINS[name];
  const mod = load ? await load() : ((await import(name)) as { default: BrokerPlugin<any, any> });
  if (!mod.default || typeof mod.default.register !== 'function') throw new ConfigError(`plugin ${name}: module has no default BrokerPlugin export`);
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
      await resolvePlugin(p.name);
    } catch (e) {
      problems.push(`plugin ${p.name}: ${(e as Error).message}`);
    }
  }
  return problems;
}
