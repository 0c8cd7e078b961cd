import type { BrokerPlugin } from '../../core/index.js';

/**
 * Built-in plugins by name, loaded lazily. A config entry whose name is not here is treated as a
 * module specifier (an integrator's package or a path), whose default export is the plugin.
 * One line per plugin.
 */
export const BUILTIN_PLUGINS: Record<string, () => Promise<{ default: BrokerPlugin<any, any> }>> = {
  example: () => import('../../plugins/example/index.js'),
  'oauth-server': () => import('../../plugins/oauth-server/index.js'),
  saml: () => import('../../plugins/saml/index.js'),
  oidc: () => import('../../plugins/oidc/index.js'),
  'roles-http': () => import('../../plugins/roles-http/index.js'),
  'password-login': () => import('../../plugins/password-login/index.js'),
  admin: () => import('../../plugins/admin/index.js'),
  'hmac-handoff': () => import('../../plugins/hmac-handoff/index.js'),
  gateway: () => import('../../plugins/gateway/index.js'),
  'ban-broadcast': () => import('../../plugins/ban-broadcast/index.js'),
  passkey: () => import('../../plugins/passkey/index.js'),
};
