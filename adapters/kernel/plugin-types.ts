import type { BrokerPlugin, PluginContext } from '../../core/index.js';
import type { WebKit } from '../http/web-kit.js';

// The plugin types with the kernel's HTTP side filled in. Here rather than in boot.ts: boot.ts loads
// the built-in plugins (through builtin-plugins.ts), which import these types, so keeping them in
// boot.ts made an import circle. This file imports only types and no plugin.

/** What a plugin's `register` receives: see docs/plugin-ctx.md. */
export type PluginCtx<C = unknown> = PluginContext<C, WebKit>;
/** A plugin: `{ name, configSchema, register(ctx) }`, the default export of its module. */
export type Plugin<C = unknown> = BrokerPlugin<C, WebKit>;
