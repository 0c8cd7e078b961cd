import type { EventMap, EventType } from './catalog.js';
import type { RecordedEvent } from './envelope.js';
import { isKnownEventType } from './schema-versions.js';

/**
 * Which fields of an event's `data` hold secret material (password hashes, token hashes, recovery
 * code hashes, ciphertexts of keys): declared once per event type, next to the type's definition
 * (the core's below, each plugin's in its own `events.ts`). Everything that shows events outside
 * the broker (the SIEM export, the admin timeline) redacts by this declaration, so a new event
 * type with a secret cannot be forgotten by a list kept somewhere else.
 *
 * Declarations add up: a plugin may declare more secret fields of a core type it fills (the OAuth
 * server's client secret hash in `ClientRegistered`).
 */
// One registry per process whichever way this module is loaded (see schema-versions.ts).
const REGISTRY = Symbol.for('identity-broker.secret-fields');
const slot = globalThis as unknown as Record<symbol, Map<string, Set<string>> | undefined>;
const secretFields: Map<string, Set<string>> = (slot[REGISTRY] ??= new Map());

export function declareSecretFields<K extends EventType>(type: K, fields: readonly (keyof EventMap[K] & string)[]): void {
  const set = secretFields.get(type) ?? new Set<string>();
  for (const f of fields) set.add(f);
  secretFields.set(type, set);
}

export function secretFieldsOf(type: string): ReadonlySet<string> {
  return secretFields.get(type) ?? EMPTY;
}
const EMPTY: ReadonlySet<string> = new Set();

/** What a redacted field's value becomes: a marker no real value of these fields can equal. */
export const REDACTED = '[redacted]';

export interface RedactedEvent {
  event: RecordedEvent;
  /** Paths of what was replaced (`data.passwordHash`; `data` for the whole body). Empty: nothing was. */
  redacted: string[];
}

/**
 * The event with its declared secrets replaced by {@link REDACTED}; `hash` and `prevHash` unchanged
 * (docs/security/export.md says how a SIEM still checks the chain). An event of a type this process
 * does not know (its plugin is not loaded here) has no declaration to trust, so its whole `data` is
 * withheld rather than guessed about.
 */
export function redactSecrets(e: RecordedEvent): RedactedEvent {
  if (!isKnownEventType(e.type)) return { event: { ...e, data: REDACTED }, redacted: ['data'] };
  const fields = secretFields.get(e.type);
  if (!fields || !e.data || typeof e.data !== 'object') return { event: e, redacted: [] };
  const data = { ...(e.data as Record<string, unknown>) };
  const redacted: string[] = [];
  for (const f of fields) {
    if (data[f] === undefined || data[f] === null) continue;
    data[f] = REDACTED;
    redacted.push(`data.${f}`);
  }
  return redacted.length ? { event: { ...e, data }, redacted } : { event: e, redacted };
}

// The core's own secrets. Plugins declare theirs beside their `defineEvent`.
declareSecretFields('PasswordSet', ['passwordHash']);
// The TOTP secret is encrypted, but a ciphertext under the master key is still key material.
declareSecretFields('TotpEnrolled', ['secretCipher', 'recoveryCodeHashes']);
declareSecretFields('SetupTokenIssued', ['tokenHash']);
