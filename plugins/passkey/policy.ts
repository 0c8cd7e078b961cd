import { DomainError, type IdentityEnricher } from '../../core/index.js';
import type { PasskeysView } from './passkeys-view.js';

/**
 * The deployment's passkey policy, checked in the login orchestration (an enricher, so every
 * identity provider's logins pass through it): a user it covers who has a passkey must log in
 * with it (`hwk`) or with a second factor (`mfa`: password + TOTP or a recovery code, so recovery
 * keeps working as before); a password alone or a federated login is refused, and recorded as a
 * failed login. A covered user without a passkey is let in and told to enrol on /passkey/manage.
 */
export function passkeyPolicy(require: 'admins' | 'everyone', view: PasskeysView): IdentityEnricher {
  return {
    name: 'passkey-policy',
    async enrich({ userId, user, identity }) {
      const covered = require === 'everyone' || user.admin;
      if (!covered || identity.amr.includes('hwk') || identity.amr.includes('mfa') || !view.has(userId)) return {};
      throw new DomainError('forbidden', 'This account logs in with its passkey. Use "Log in with a passkey", or a recovery code.');
    },
  };
}
