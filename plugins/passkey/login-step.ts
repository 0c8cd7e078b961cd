import type { IdentityEnricher, Clock } from '../../plugin/index.js';
import type { PasskeyConfig } from './config.js';
import type { PasskeysView } from './passkeys-view.js';
import type { StepMode, StepTickets } from './step-ticket.js';

/**
 * The passkey step in the login orchestration, for every identity provider's logins (an enricher:
 * it runs after the core linked the user and refused a banned or disabled one). It holds the login
 * back and sends the browser to /passkey/step (`continueAt`) when:
 * - the deployment's policy covers the user (`require: admins` or `everyone`) and the login did not
 *   use a passkey: prove the one they have, or enrol one if they have none;
 * - or (`secondFactor`) a password alone logged in a user who has a passkey: it is the second factor.
 *   A password + TOTP login (`mfa`) is already two factors and goes on.
 * The step completes the login through `finishLogin` again with `hwk` in `amr`, which this lets by.
 */
export function passkeyStep(
  config: Pick<PasskeyConfig, 'require' | 'secondFactor'>,
  view: PasskeysView,
  tickets: StepTickets,
  clock: Clock,
): IdentityEnricher {
  return {
    name: 'passkey-step',
    async enrich({ userId, user, identity, context }) {
      if (identity.amr.includes('hwk')) return {};
      const covered = config.require === 'everyone' || (config.require === 'admins' && user.admin);
      const has = view.has(userId);
      let mode: StepMode;
      if (covered) mode = has ? 'assert' : 'enrol';
      else if (config.secondFactor && has && identity.amr.includes('pwd') && !identity.amr.includes('mfa')) mode = 'assert';
      else return {};
      const ticket = tickets.issue(
        { uid: userId, identity, idp: context?.idp ?? identity.issuer, lr: context?.loginRequest ?? '', mode },
        clock.now(),
      );
      return { continueAt: `/passkey/step?t=${encodeURIComponent(ticket)}` };
    },
  };
}
