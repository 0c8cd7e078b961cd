import type { RecordedEvent } from './envelope.js';

/**
 * Schema versions and upcasters. Each event type has a current version; an event written at an
 * older version is upcast step by step when read (v1 -> v2 -> ...), never rewritten in the log.
 * An event of a type nobody defined (a plugin that is no longer loaded) or of a version newer than
 * this code knows is reported, not crashed on: readers get `status: 'unknown'` and skip it.
 */
type Upcaster = (data: unknown) => unknown;

interface EventTypeDef {
  version: number;
  upcasters: Map<number, Upcaster>;
}

// One registry per process whichever way this module is loaded (the compiled build, and a plugin
// whose installed `identity-broker` is another copy of it, would otherwise each fill their own).
const REGISTRY = Symbol.for('identity-broker.event-types');
const slot = globalThis as unknown as Record<symbol, Map<string, EventTypeDef> | undefined>;
const defs: Map<string, EventTypeDef> = (slot[REGISTRY] ??= new Map());

export function defineEvent(type: string, version = 1, upcasters: Record<number, Upcaster> = {}): void {
  const existing = defs.get(type);
  if (existing && existing.version !== version) {
    throw new Error(`event type ${type} defined twice with versions ${existing.version} and ${version}`);
  }
  defs.set(type, { version, upcasters: new Map(Object.entries(upcasters).map(([k, f]) => [Number(k), f])) });
}

/** Every event type defined so far (core and loaded plugins), sorted: for pickers and filters. */
export function knownEventTypes(): string[] {
  return [...defs.keys()].sort();
}

export function currentVersion(type: string): number {
  return defs.get(type)?.version ?? 1;
}

export function isKnownEventType(type: string): boolean {
  return defs.has(type);
}

export type UpcastResult =
  | { status: 'ok'; event: RecordedEvent }
  | { status: 'unknown'; reason: 'unknown_type' | 'unknown_version' | 'upcast_failed'; event: RecordedEvent };

export function upcast(event: RecordedEvent): UpcastResult {
  const def = defs.get(event.type);
  if (!def) return { status: 'unknown', reason: 'unknown_type', event };
  if (event.version === def.version) return { status: 'ok', event };
  if (event.version > def.version) return { status: 'unknown', reason: 'unknown_version', event };
  let data = event.data;
  try {
    for (let v = event.version; v < def.version; v++) {
      const step = def.upcasters.get(v);
      if (!step) return { status: 'unknown', reason: 'unknown_version', event };
      data = step(data);
    }
  } catch {
    return { status: 'unknown', reason: 'upcast_failed', event };
  }
  return { status: 'ok', event: { ...event, data, version: def.version } };
}

// The core's own catalog, all at version 1 today. A change to an event's shape bumps its
// version here and adds the upcaster from the previous one.
for (const t of [
  'UserRegistered', 'UserProfileUpdated', 'PasswordSet', 'TotpEnrolled', 'TotpRemoved', 'RecoveryCodeUsed',
  'AdminGranted', 'AdminRevoked', 'AccountDisabled', 'AccountEnabled', 'UserBanned', 'UserUnbanned', 'UserErased', 'CredentialsRevoked',
  'ExternalIdentityLinked', 'ExternalIdentityUnlinked', 'AccountProvisioned', 'RolesAssigned',
  'ReservationClaimed', 'ReservationReleased', 'LoginSucceeded', 'LoginFailed', 'SessionRefreshed', 'SessionEnded',
  'AdminBootstrapped', 'SetupTokenIssued', 'SiteRegistered', 'SiteUpdated', 'SiteRemoved', 'ClientRegistered', 'ClientUpdated',
  'LogContradictionOverridden',
]) {
  defineEvent(t, 1);
}
