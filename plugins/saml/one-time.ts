import { createHash } from 'node:crypto';
import { defineEvent, useOnce, type EventStore } from '../../plugin/index.js';
import { SamlRejected } from './errors.js';

declare module '../../core/events/catalog.js' {
  interface EventMap {
    /**
     * Legacy (no longer written): the broker used to record every AuthnRequest it sent, which let an
     * anonymous GET grow the log. Kept so older logs still replay.
     */
    SamlAuthnRequestSent: { idp: string; requestId: string; expiresAt: string; loginRequest: string | null };
    /** A signed, valid response answered this AuthnRequest (stream `saml-request-<hash(idp, id)>`): never again. */
    SamlAuthnRequestAnswered: { idp: string; requestId: string };
    /** An assertion was accepted (stream `saml-assertion-<hash(idp, id)>`): the replay cache. */
    SamlAssertionConsumed: { idp: string; assertionIdHash: string; notOnOrAfter: string | null };
    /** A signed, fresh LogoutRequest was acted on (stream `saml-logout-<hash(idp, id)>`): never again. */
    SamlLogoutRequestConsumed: { idp: string; requestIdHash: string; issueInstant: string };
  }
}
defineEvent('SamlAuthnRequestSent', 1); // legacy, never written again: no schema, not declared
defineEvent('SamlAuthnRequestAnswered', 1, {}, { fields: { idp: 'string', requestId: 'string' } });
defineEvent('SamlAssertionConsumed', 1, {}, { fields: { idp: 'string', assertionIdHash: 'string', notOnOrAfter: 'string|null' } });
defineEvent('SamlLogoutRequestConsumed', 1, {}, { fields: { idp: 'string', requestIdHash: 'string', issueInstant: 'string' } });

const h = (idp: string, id: string): string => createHash('sha256').update(idp).update('\0').update(id).digest('hex').slice(0, 40);
export const requestStream = (idp: string, id: string): string => `saml-request-${h(idp, id)}`;
export const assertionStream = (idp: string, id: string): string => `saml-assertion-${h(idp, id)}`;
export const logoutStream = (idp: string, id: string): string => `saml-logout-${h(idp, id)}`;

/**
 * One-time SAML state kept in the event log, so a replay is caught on every node: both checks rely
 * on the store's atomic "stream must not exist" append, never on a per-process cache. Both are
 * written only for a response that passed every other check (signed by the IdP, bound to this
 * browser), so an anonymous request cannot make the log grow here.
 */
export class SamlOneTime {
  constructor(private readonly store: EventStore) {}

  /**
   * Consumes the AuthnRequest a response answers (`InResponseTo`, saml-profiles §4.1.4.3): each
   * request is answered once, even by a second genuine assertion or by a thief holding the browser's
   * binding cookie. Written "no stream": two nodes racing on one response, only one wins.
   */
  async consumeRequest(idp: string, requestId: string): Promise<void> {
    if (
      !(await useOnce(
        this.store,
        requestStream(idp, requestId),
        { type: 'SamlAuthnRequestAnswered', data: { idp, requestId } },
        { actor: 'plugin:saml' },
      ))
    ) {
      throw new SamlRejected('saml_request_reused', 'This login was already completed; start again.', 'replayed');
    }
  }

  /** The replay cache (saml-profiles §4.1.4.5): an assertion id is accepted once, ever. */
  async consumeAssertion(idp: string, assertionId: string, notOnOrAfter: string | null): Promise<void> {
    const event = { type: 'SamlAssertionConsumed' as const, data: { idp, assertionIdHash: h(idp, assertionId), notOnOrAfter } };
    if (!(await useOnce(this.store, assertionStream(idp, assertionId), event, { actor: 'plugin:saml' }))) {
      throw new SamlRejected('saml_replayed', 'This SAML assertion was already used.', 'replayed');
    }
  }

  /**
   * A LogoutRequest is acted on once (saml-core §3.7.3.1's replay concern): a captured request
   * must not log the user out again and again. Written only after the signature, Destination and
   * freshness checks, so only the IdP can make this record.
   */
  async consumeLogoutRequest(idp: string, requestId: string, issueInstant: string): Promise<void> {
    const event = { type: 'SamlLogoutRequestConsumed' as const, data: { idp, requestIdHash: h(idp, requestId), issueInstant } };
    if (!(await useOnce(this.store, logoutStream(idp, requestId), event, { actor: 'plugin:saml' }))) {
      throw new SamlRejected('saml_logout_replayed', 'This logout request was already used.', 'replayed');
    }
  }
}
