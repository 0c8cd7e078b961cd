import type { Plugin } from '../../adapters/kernel/boot.js';
import { Challenges } from './challenges.js';
import { configSchema, type PasskeyConfig } from './config.js';
import { PasskeysView } from './passkeys-view.js';
import { passkeyPolicy } from './policy.js';
import { relyingParty } from './rp.js';
import { IDP_ID, registerPasskeyRoutes } from './routes.js';

/**
 * Passkeys (WebAuthn Level 3 through @simplewebauthn/server): log in with a discoverable
 * credential alone, manage them from /passkey/manage, and an optional policy that makes them
 * required. See README.md beside this file.
 */
const plugin: Plugin<PasskeyConfig> = {
  name: 'passkey',
  configSchema,
  register(ctx) {
    const rp = relyingParty(ctx.baseUrl, { rpId: ctx.config.rpId, name: ctx.config.rpName }); // a clear start error when browsers could not use it
    const view = new PasskeysView();
    ctx.add.projection(view);
    registerPasskeyRoutes({ ctx, view, challenges: new Challenges(ctx.clock), rp });
    if (ctx.config.require !== 'none') ctx.add.enricher(passkeyPolicy(ctx.config.require, view));
    ctx.add.identityProvider({
      id: IDP_ID,
      displayName: 'Passkey',
      protocol: 'webauthn',
      interactive: true,
      loginPath: (lr) => `/passkey/login?lr=${encodeURIComponent(lr)}`,
    });
  },
};

export default plugin;
