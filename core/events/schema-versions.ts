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
  /** JSON Schema of `data` at the current version: what a plugin's append is validated against. */
  schema?: Record<string, unknown>;
}

// One registry per process whichever way this module is loaded (the compiled build, and a plugin
// whose installed `identity-broker` is another copy of it, would otherwise each fill their own).
const REGISTRY = Symbol.for('identity-broker.event-types');
const slot = globalThis as unknown as Record<symbol, Map<string, EventTypeDef> | undefined>;
const defs: Map<string, EventTypeDef> = (slot[REGISTRY] ??= new Map());

/**
 * A compact field list for an event's schema: `{ grantId: 'string', sessionId: 'string|null',
 * loginPosition: 'integer?' }`. Types: string, number, integer, boolean, string[], object, array,
 * any; `|null` allows null, a trailing `?` makes the field optional. Other fields are allowed (a
 * newer writer may add one); the listed ones must be there with their types.
 */
export type EventFields = Record<string, string>;

export interface EventDefinitionOptions {
  /** The data's JSON Schema, or a compact field list (EventFields). */
  schema?: Record<string, unknown>;
  fields?: EventFields;
}

const FIELD_TYPES: Record<string, Record<string, unknown>> = {
  string: { type: 'string' },
  number: { type: 'number' },
  integer: { type: 'integer' },
  boolean: { type: 'boolean' },
  'string[]': { type: 'array', items: { type: 'string' } },
  object: { type: 'object' },
  array: { type: 'array' },
  any: {},
};

/** The JSON Schema an EventFields list stands for. */
export function fieldsSchema(fields: EventFields): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const [name, spec] of Object.entries(fields)) {
    const optional = spec.endsWith('?');
    const [base, ...rest] = (optional ? spec.slice(0, -1) : spec).split('|');
    const t = FIELD_TYPES[base];
    if (!t) throw new Error(`unknown field type ${spec} for ${name}`);
    const nullable = rest.includes('null');
    properties[name] = nullable ? { anyOf: [t, { type: 'null' }] } : t;
    if (!optional) required.push(name);
  }
  return { type: 'object', properties, required };
}

export function defineEvent(
  type: string,
  version = 1,
  upcasters: Record<number, Upcaster> = {},
  options: EventDefinitionOptions = {},
): void {
  const existing = defs.get(type);
  if (existing && existing.version !== version) {
    throw new Error(`event type ${type} defined twice with versions ${existing.version} and ${version}`);
  }
  const schema = options.schema ?? (options.fields ? fieldsSchema(options.fields) : existing?.schema);
  defs.set(type, { version, upcasters: new Map(Object.entries(upcasters).map(([k, f]) => [Number(k), f])), schema });
}

/** The JSON Schema of an event type's data (current version), if its definition gave one. */
export function eventSchema(type: string): Record<string, unknown> | undefined {
  return defs.get(type)?.schema;
}

/** True for the core's own catalog (below): only core commands write these. */
export function isCoreEventType(type: string): boolean {
  return CORE_EVENT_TYPES.has(type);
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
const CORE_CATALOG = [
  'UserRegistered',
  'UserProfileUpdated',
  'PasswordSet',
  'TotpEnrolled',
  'TotpRemoved',
  'RecoveryCodeUsed',
  'AdminGranted',
  'AdminRevoked',
  'AccountDisabled',
  'AccountEnabled',
  'UserBanned',
  'UserUnbanned',
  'UserErased',
  'CredentialsRevoked',
  'ExternalIdentityLinked',
  'ExternalIdentityUnlinked',
  'AccountProvisioned',
  'RolesAssigned',
  'ReservationClaimed',
  'ReservationReleased',
  'LoginSucceeded',
  'LoginFailed',
  'SessionRefreshed',
  'SessionEnded',
  'AdminBootstrapped',
  'SetupTokenIssued',
  'SiteRegistered',
  'SiteUpdated',
  'SiteRemoved',
  'ClientRegistered',
  'ClientUpdated',
  'LogContradictionOverridden',
];
for (const t of CORE_CATALOG) defineEvent(t, 1);
// Written by one plugin each, though typed in the catalog: the admin plugin's first-run story
// (`admin-setup`) and the OAuth server's client records (`client-<id>`). They are that plugin's
// declared events (BrokerPlugin.events), not core facts.
const PLUGIN_OWNED = new Set(['AdminBootstrapped', 'SetupTokenIssued', 'ClientRegistered', 'ClientUpdated']);
const CORE_EVENT_TYPES: ReadonlySet<string> = new Set([
  ...CORE_CATALOG.filter((t) => !PLUGIN_OWNED.has(t)),
  // Defined beside the core services that write them, core facts all the same.
  'PasswordLinkIssued',
  'PasswordLinkUsed',
  'ReactorCheckpointed',
  'LeaseAcquired',
  'LeaseRenewed',
  'LeaseReleased',
  'SigningKeyGenerated',
  'TotpCodeAccepted',
  'ReactorQuarantined',
  'ComponentRetryRequested',
]);
