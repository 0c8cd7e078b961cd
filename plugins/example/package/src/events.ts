import { defineEvent } from 'identity-broker/plugin';

// The plugin's own event. Declaration merging adds it to the broker's event catalog, so
// `ctx.store.append` type-checks its data and `isEvent(e, 'LoginStatsReset')` narrows `e.data`.
declare module 'identity-broker/plugin' {
  interface EventMap {
    /** Stream `login-stats-resets`: an administrator cleared the login counts. */
    LoginStatsReset: { reason: string };
  }
}

// Registers the type and its schema version with the log. When the data's shape changes, bump the
// version and give the upcaster from the previous one:
//   defineEvent('LoginStatsReset', 2, { 1: (d) => ({ ...(d as object), ticket: null }) });
// Nothing personal or secret in it (the actor is in the metadata); an event with an email, a name
// or an IP declares them with declarePersonalFields, a hash or a ciphertext with declareSecretFields.
// The `fields` are its data's schema: the kernel validates every append against them.
defineEvent('LoginStatsReset', 1, {}, { fields: { reason: 'string' } });

/** Every stream of this plugin starts with its name (declared as `streams` on the plugin). */
export const RESETS_STREAM = 'login-stats-resets';
