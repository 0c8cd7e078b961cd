import { Ajv } from 'ajv';
import { BUILTIN_PLUGINS } from '../adapters/kernel/builtin-plugins.js';
import type { BrokerConfig } from './types.js';
import { describeSchemaErrors } from './schema-errors.js';

export interface PluginConfigReport {
  /** Plugins whose section was validated against their schema. */
  checked: string[];
  /** Names not built in (an integrator's module, or a plugin not written yet): not checked here. */
  notBuiltin: string[];
  /** `plugins[i].config.x: message` for every bad value. */
  errors: string[];
}

/**
 * Validates each built-in plugin's section against that plugin's `configSchema`, the way the
 * kernel does at boot, without starting anything (for `broker config check`-style tooling and
 * the examples test).
 */
export async function checkPluginConfigs(config: BrokerConfig): Promise<PluginConfigReport> {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  const report: PluginConfigReport = { checked: [], notBuiltin: [], errors: [] };
  for (const [i, entry] of config.plugins.entries()) {
    const load = BUILTIN_PLUGINS[entry.name];
    if (!load) {
      report.notBuiltin.push(entry.name);
      continue;
    }
    const plugin = (await load()).default;
    report.checked.push(entry.name);
    if (!plugin.configSchema) continue;
    const validate = ajv.compile(plugin.configSchema);
    if (validate(structuredClone(entry.config ?? {}))) continue;
    report.errors.push(...describeSchemaErrors(validate.errors, ['plugins', i, 'config']));
  }
  return report;
}
