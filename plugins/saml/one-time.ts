import { createHash } from 'node:crypto';
import { defineEvent, WrongExpectedRevision, type Clock, type EventStore } from '../../core/index.js';
import { SamlRejected } from './errors.js';

declare module '../../core/events/catalog.js' {
  interface EventMap {
    /** The broker sent an AuthnRequest (stream `saml-request-<hash(idp, id)>`). */
    SamlAuthnRequestSent: { idp: string; requestId: string; expiresAt: string; loginRequest: string | null };
    /** A response answered it: the request can never be answered again. */
    SamlAuthnRequestAnswered: { idp: string; requestId: string };
    /** An assertion was accepted (stream `saml-assertion-<hash(idp, id)>`): the replay cache. */
    SamlAssertionConsumed: { idp: string; assertionIdHash: string; notOnOrAfter: string | null };
  }
}
defineEvent('SamlAuthnRequestSent', 1);
defineEvent('SamlAuthnRequestAnswered', 1);
defineEvent('SamlAssertionConsumed', 1);

const h = (idp: string, id: string): string => createHash('sha256').update(idp).update('\0').update(id).digest('hex').slice(0, 40);
export const requestStream = (idp: string, id: string): string => `saml-request-${h(idp, id)}`;
export const assertionStream = (idp: string, id: string): string => `saml-assertion-${h(idp, id)}`;

/**
 * One-time SAML state kept in the event log, so any broker node can answer a response to a
 * request another node sent, and a replay is caught on every node: both rely on the store's
 * atomic expected-revision check, never on a per-process cache.
 */
export class SamlOneTime {
  constructor(
    private readonly store: EventStore,
    private readonly clock: Clock,
    private readonly ttlSeconds: number,
  ) {}

  /**
   * Records an AuthnRequest the broker sent. The login request token (signed, no secrets) is bound
   * to the request id here rather than carried in RelayState, which saml-bindings §3.4.3 limits to 80 bytes.
   */
  async recordRequest(idp: string, requestId: string, loginRequest: string | null): Promise<void> {
    const expiresAt = new Date(this.clock.now().getTime() + this.ttlSeconds * 1000).toISOString();
    await this.store.append(
      requestStream(idp, requestId),
      [{ type: 'SamlAuthnRequestSent', data: { idp, requestId, expiresAt, loginRequest }, metadata: { actor: `plugin:saml` } }],
      { expectedRevision: 'no_stream' },
    );
  }

  /**
   * Consumes the request a response claims to answer (`InResponseTo`, saml-profiles §4.1.4.3):
   * it must exist, be for this IdP, be unexpired and unanswered. The append expects revision 0
   * (exactly the `Sent` event): two nodes racing on one response, only one wins.
   */
  async consumeRequest(idp: string, requestId: string): Promise<{ loginRequest: string | null }> {
    const stream = requestStream(idp, requestId);
    const events = await this.store.readStream(stream);
    const sent = events[0];
    if (!sent || sent.type !== 'SamlAuthnRequestSent') throw new SamlRejected('saml_unknown_request', 'This SAML response answers no request the broker sent.');
    if (events.length > 1) throw new SamlRejected('saml_request_reused', 'This login was already completed; start again.', 'replayed');
    const data = sent.data as { expiresAt: string; loginRequest: string | null };
    if (Date.parse(data.expiresAt) <= this.clock.now().getTime()) throw new SamlRejected('saml_request_expired', 'The login took too long; start again.', 'expired');
    try {
      await this.store.append(stream, [{ type: 'SamlAuthnRequestAnswered', data: { idp, requestId }, metadata: { actor: 'plugin:saml' } }], { expectedRevision: 0 });
    } catch (e) {
      if (e instanceof WrongExpectedRevision) throw new SamlRejected('saml_request_reused', 'This login was already completed; start again.', 'replayed');
      throw e;
    }
    return { loginRequest: data.loginRequest };
  }

  /** The replay cache (saml-profiles §4.1.4.5): an assertion id is accepted once, ever. */
  async consumeAssertion(idp: string, assertionId: string, notOnOrAfter: string | null): Promise<void> {
    try {
      await this.store.append(
        assertionStream(idp, assertionId),
        [{ type: 'SamlAssertionConsumed', data: { idp, assertionIdHash: h(idp, assertionId), notOnOrAfter }, metadata: { actor: 'plugin:saml' } }],
        { expectedRevision: 'no_stream' },
      );
    } catch (e) {
      if (e instanceof WrongExpectedRevision) throw new SamlRejected('saml_replayed', 'This SAML assertion was already used.', 'replayed');
      throw e;
    }
  }
}
