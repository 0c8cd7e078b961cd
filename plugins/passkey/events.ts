import { declarePersonalFields, defineEvent } from '../../plugin/index.js';

/**
 * The passkey plugin's facts (stream `passkey-<credentialId>`). Only public key material is
 * recorded: a passkey's private key never leaves the authenticator.
 */
declare module '../../core/events/catalog.js' {
  interface EventMap {
    /** Appended `no_stream`: a credential id is registered once, to one user. */
    PasskeyRegistered: {
      userId: string;
      credentialId: string;
      /** COSE public key, base64url. */
      publicKey: string;
      counter: number;
      transports: string[];
      /** `singleDevice` or `multiDevice` (synced); `backedUp`: the BS flag at registration. */
      deviceType: string;
      backedUp: boolean;
      name: string;
    };
    /** A login with it: the new signature counter and backup state (appended at the revision read). */
    PasskeyUsed: { userId: string; credentialId: string; counter: number; backedUp: boolean };
    /** An assertion whose counter did not move past the stored one: a cloned authenticator, refused. */
    PasskeyCounterRejected: { userId: string; credentialId: string; stored: number; presented: number };
    PasskeyRenamed: { userId: string; credentialId: string; name: string };
    PasskeyRemoved: { userId: string; credentialId: string };
    /** Stream `passkey-step-<hash>`, appended `no_stream`: a login step's ticket completed once, on any node. */
    PasskeyStepUsed: { userId: string; ticketHash: string };
  }
}

defineEvent(
  'PasskeyRegistered',
  1,
  {},
  {
    fields: {
      userId: 'string',
      credentialId: 'string',
      publicKey: 'string',
      counter: 'integer',
      transports: 'string[]',
      deviceType: 'string',
      backedUp: 'boolean',
      name: 'string',
    },
  },
);
defineEvent('PasskeyUsed', 1, {}, { fields: { userId: 'string', credentialId: 'string', counter: 'integer', backedUp: 'boolean' } });
defineEvent(
  'PasskeyCounterRejected',
  1,
  {},
  { fields: { userId: 'string', credentialId: 'string', stored: 'integer', presented: 'integer' } },
);
defineEvent('PasskeyRenamed', 1, {}, { fields: { userId: 'string', credentialId: 'string', name: 'string' } });
defineEvent('PasskeyRemoved', 1, {}, { fields: { userId: 'string', credentialId: 'string' } });
defineEvent('PasskeyStepUsed', 1, {}, { fields: { userId: 'string', ticketHash: 'string' } });
// A passkey's name is typed by its owner ("Ada's phone"): personal, sealed under the user's key (issue 19).
declarePersonalFields('PasskeyRegistered', ['name']);
declarePersonalFields('PasskeyRenamed', ['name']);

/** Credential ids are base64url already: safe in a stream name. */
export const passkeyStream = (credentialId: string): string => `passkey-${credentialId}`;
