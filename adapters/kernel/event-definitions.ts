import { BUILTIN_PLUGINS } from './builtin-plugins.js';
import { resolvePlugin, type PluginEntry } from './resolve-plugin.js';

/**
 * Loads the modules that define event types and declare their secret fields (module side effects:
 * `defineEvent`, `declareSecretFields`) without booting anything: every built-in plugin, the
 * adapters that own events, and each plugin the config names. Offline commands that show events
 * outside the broker (the SIEM export) need every declaration a running broker would have.
 * Returns the configured plugins that could not be imported: their events stay unknown here, and
 * the export withholds an unknown event's whole body.
 */
export async function loadEventDefinitions(configured: PluginEntry[]): Promise<string[]> {
  await Promise.all([
    import('../crypto/signing-keys.js'),
    import('../crypto/totp.js'),
    ...Object.values(BUILTIN_PLUGINS).map((load) => load()),
  ]);
  const missing: string[] = [];
  for (const p of configured) {
    if (BUILTIN_PLUGINS[p.name]) continue;
    try {
      await resolvePlugin(p);
    } catch {
      missing.push(p.name);
    }
  }
  return missing;
}
