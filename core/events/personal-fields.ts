import type { EventMap, EventType } from './catalog.js';

/**
 * Which fields of an event's `data` hold personal data (email, name, IP address, user agent,
 * external subject, attributes), and whose they are: declared once per event type, here for the
 * core's events and beside `defineEvent` in each plugin's `events.ts` for a plugin's. The store
 * encrypts these fields under the data key of the person they are about (adapters/crypto/
 * personal-data.ts) before the event is hashed and written, so the log, its hash chains and the
 * transparency tree hold and cover ciphertext only; erasing a person destroys the key
 * (docs/security/erasure.md).
 *
 * `subject` names the field of `data` that holds the user id the data is about. An event whose
 * subject field is empty (a failed login for an address no account has) is encrypted under the
 * key of its day, which retention destroys (`privacy.anonymousKeyDays`).
 */
export interface PersonalFields {
  readonly fields: ReadonlySet<string>;
  readonly subject: string;
}

// One registry per process whichever way this module is loaded (the compiled build and a plugin
// loading core from source would otherwise each fill their own).
const REGISTRY = Symbol.for('identity-broker.personal-fields');
const slot = globalThis as unknown as Record<symbol, Map<string, PersonalFields> | undefined>;
const registry: Map<string, PersonalFields> = (slot[REGISTRY] ??= new Map());

export function declarePersonalFields<K extends EventType>(
  type: K,
  fields: readonly (keyof EventMap[K] & string)[],
  options: { subject?: keyof EventMap[K] & string } = {},
): void {
  const before = registry.get(type);
  const subject = options.subject ?? before?.subject ?? 'userId';
  if (before && before.subject !== subject)
    throw new Error(`event type ${type}: personal data declared about ${before.subject} and ${subject}`);
  registry.set(type, { fields: new Set([...(before?.fields ?? []), ...fields]), subject });
}

export function personalFieldsOf(type: string): PersonalFields | undefined {
  return registry.get(type);
}

/** Every declaration, for the docs and the erasure test. */
export function personalFieldDeclarations(): ReadonlyMap<string, PersonalFields> {
  return registry;
}

/** What a personal field reads as once its key is destroyed (the person was erased, or the day's key expired). */
export const ERASED = '[erased]';

/** The field of a stored event's `data` that holds its encrypted personal fields. */
export const SEALED_FIELD = '_personal';

/** How the sealed part is stored: the key's id, the names of the fields it holds, the ciphertext. */
export interface SealedPersonalData {
  /** `u:<userId>` or `d:<yyyy-mm-dd>` */
  k: string;
  f: string[];
  /** base64url of iv (12) | ciphertext | tag (16), AES-256-GCM, AAD `<event id>|<k>`. */
  c: string;
}

export function isSealed(v: unknown): v is SealedPersonalData {
  return (
    !!v &&
    typeof v === 'object' &&
    typeof (v as SealedPersonalData).k === 'string' &&
    typeof (v as SealedPersonalData).c === 'string' &&
    Array.isArray((v as SealedPersonalData).f)
  );
}

// --- the core's personal data. Plugins declare theirs beside their `defineEvent`.
declarePersonalFields('UserRegistered', ['email', 'name']);
declarePersonalFields('UserProfileUpdated', ['email', 'name']);
declarePersonalFields('ExternalIdentityLinked', ['subject']);
declarePersonalFields('ExternalIdentityUnlinked', ['subject']);
declarePersonalFields('AccountProvisioned', ['subject']);
declarePersonalFields('LoginSucceeded', ['subject', 'ip', 'userAgent']);
declarePersonalFields('LoginFailed', ['subject', 'ip']);
