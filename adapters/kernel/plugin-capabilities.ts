import type { Container } from 'inversify';
import type { Ajv, ValidateFunction } from 'ajv';
import {
  CommandHandler,
  PluginCapabilityError,
  StreamCheckpoint,
  StreamLease,
  type PluginReactorState,
  eventSchema,
  isCoreEventType,
  isKnownEventType,
  storedEvents,
  type AppendOptions,
  type AppendResult,
  type BrokerPlugin,
  type CommandMeta,
  type CommandResult,
  type EventStore,
  type TransparencyTree,
  type LoginContext,
  type LoginService,
  type NewEvent,
  type PluginKeys,
  type PluginLogin,
  type PluginPrivilege,
  type PluginServices,
  type RegisterUser,
  type Token,
  type UserCommand,
  type Users,
} from '../../core/index.js';
import { ConfigError } from '../../config/errors.js';
import type { Keys } from './master-key.js';

/**
 * What a plugin's `ctx` holds instead of the broker itself (issue 22, step 2): appends scoped to
 * its own declared events and stream namespace, keys derived for it alone, typed services gated
 * by privilege, user commands gated by privilege, and `complete` only for its own IdPs.
 */

/**
 * Key purposes the built-in plugins derived before keys were scoped (`broker:<purpose>`, no
 * `plugin:<name>:` prefix). Kept so existing deployments keep their keys: the OAuth client secrets
 * derived from the master key, the TOTP secrets encrypted at rest, the recovery code hashes, the
 * signed tickets and bindings in flight. Honoured for the built-in plugins only (an integrator's
 * plugin named `admin` loaded from elsewhere gets `plugin:admin:<purpose>` like any other).
 * `recovery-code` is shared on purpose: the admin setup enrols the first admin's recovery codes,
 * and password-login and passkey check them at login. (`totp-secret` is the kernel's: the TOTP
 * service is a core credential service, TOKENS.Totp.)
 */
export const LEGACY_KEY_PURPOSES: Readonly<Record<string, readonly string[]>> = {
  admin: ['recovery-code'],
  'password-login': ['recovery-code', 'password-mfa-ticket'],
  passkey: ['recovery-code', 'passkey-step'],
  'oauth-server': ['oauth-client-secret', 'oauth-code', 'oauth-csrf'],
  saml: ['saml-login-binding', 'saml-logout-binding'],
  oidc: ['oidc-rp'],
  'hmac-handoff': ['handoff-inbound'],
};

export function pluginKeys(keys: Keys, plugin: string, builtin: boolean): PluginKeys {
  const legacy = builtin ? new Set(LEGACY_KEY_PURPOSES[plugin] ?? []) : new Set<string>();
  return {
    derive: (purpose, length) => {
      if (!purpose || purpose.includes(':'))
        throw new PluginCapabilityError(plugin, `key purpose ${JSON.stringify(purpose)} must be a plain name`);
      return keys.derive(legacy.has(purpose) ? purpose : `plugin:${plugin}:${purpose}`, length);
    },
  };
}

/** The declared events of every loaded plugin so far: an event type has one owner. */
export class EventOwners {
  private readonly owner = new Map<string, string>();
  private readonly validators = new Map<string, ValidateFunction>();
  constructor(private readonly ajv: Ajv) {}

  /** Checks a plugin's declarations at start (ConfigError: the broker does not start). */
  claim(plugin: BrokerPlugin<any, any>, builtin: boolean): void {
    if (plugin.privileges?.length && !builtin) {
      throw new ConfigError(`plugin ${plugin.name}: privileges (${plugin.privileges.join(', ')}) are granted to built-in plugins only`);
    }
    for (const prefix of plugin.streams ?? []) {
      if (!/^[a-z0-9][a-z0-9-]*$/.test(prefix))
        throw new ConfigError(`plugin ${plugin.name}: stream prefix ${JSON.stringify(prefix)} is not lower-case words and dashes`);
    }
    for (const type of plugin.events ?? []) {
      if (isCoreEventType(type))
        throw new ConfigError(`plugin ${plugin.name}: ${type} is a core event; core facts change through core commands only`);
      if (!isKnownEventType(type)) throw new ConfigError(`plugin ${plugin.name}: event ${type} is declared but not defined (defineEvent)`);
      const schema = eventSchema(type);
      if (!schema)
        throw new ConfigError(
          `plugin ${plugin.name}: event ${type} is defined without a schema (defineEvent(type, version, upcasters, { fields }))`,
        );
      const other = this.owner.get(type);
      if (other && other !== plugin.name)
        throw new ConfigError(`plugin ${plugin.name}: event ${type} is already declared by plugin ${other}`);
      this.owner.set(type, plugin.name);
      if (!this.validators.has(type)) this.validators.set(type, this.ajv.compile(schema));
    }
  }

  validator(type: string): ValidateFunction | undefined {
    return this.validators.get(type);
  }
}

/**
 * The event store a plugin sees: every read, and appends of its own declared events (validated
 * against their schema) to streams under its declared prefixes. The kernel stamps
 * `metadata.plugin` (who wrote it, which the plugin cannot choose) and an actor when none is given.
 */
export function scopedStore(store: EventStore, plugin: BrokerPlugin<any, any>, owners: EventOwners): EventStore {
  const name = plugin.name;
  const events = new Set(plugin.events ?? []);
  const prefixes = plugin.streams ?? [];
  const check = (streamId: string, list: NewEvent[]): NewEvent[] => {
    if (!prefixes.some((p) => streamId === p || streamId.startsWith(p.endsWith('-') ? p : `${p}-`))) {
      throw new PluginCapabilityError(name, `stream ${streamId} is outside its namespace (${prefixes.join(', ') || 'none declared'})`);
    }
    return list.map((e) => {
      if (isCoreEventType(e.type))
        throw new PluginCapabilityError(name, `${e.type} is a core event; it changes through core commands only`);
      if (!events.has(e.type)) throw new PluginCapabilityError(name, `${e.type} is not one of its declared events`);
      const validate = owners.validator(e.type)!;
      if (!validate(e.data))
        throw new PluginCapabilityError(
          name,
          `${e.type} data does not match its schema: ${validate.errors?.map((x) => `${x.instancePath || '/'} ${x.message}`).join('; ')}`,
        );
      const actor = e.metadata?.actor ?? `plugin:${name}`;
      if (actor.startsWith('plugin:') && actor !== `plugin:${name}`)
        throw new PluginCapabilityError(name, `actor ${actor} names another plugin`);
      return { ...e, metadata: { ...e.metadata, actor, plugin: name } };
    });
  };
  return {
    kind: store.kind,
    append: (streamId: string, list: NewEvent[], options?: AppendOptions): Promise<AppendResult> => {
      try {
        return store.append(streamId, check(streamId, list), options);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    readStream: (streamId, options) => store.readStream(streamId, options),
    readAll: (options) => store.readAll(options),
    headPosition: () => store.headPosition(),
    subscribe: (after) => store.subscribe(after),
    close: () => Promise.reject(new PluginCapabilityError(name, "the event store is the kernel's to close")),
    // The events as stored (personal fields sealed), for hash-chain checks (storedEvents): read only.
    ...(store.raw ? { raw: readOnlyStore(storedEvents(store), name) } : {}),
    // The Merkle tree, for reading (the console's transparency screen); its writes are the kernel's.
    ...(store.tree ? { tree: readOnlyTree(store.tree, name) } : {}),
  };
}

/** A tree's reads; recording checkpoints, acknowledgements or rebuilding it is refused. */
function readOnlyTree(tree: TransparencyTree, plugin: string): TransparencyTree {
  const refuse = () => Promise.reject(new PluginCapabilityError(plugin, 'the transparency tree is read only'));
  return {
    size: () => tree.size(),
    nodes: (keys) => tree.nodes(keys),
    leaves: (from, limit) => tree.leaves(from, limit),
    leafAtPosition: (position) => tree.leafAtPosition(position),
    checkpoints: (limit) => tree.checkpoints(limit),
    witnessAcks: (size) => tree.witnessAcks(size),
    rebuild: refuse,
    recordCheckpoint: refuse,
    recordWitnessAck: refuse,
  };
}

/** Reads of a store, and nothing else. */
function readOnlyStore(store: EventStore, plugin: string): EventStore {
  const refuse = () => Promise.reject(new PluginCapabilityError(plugin, 'the stored form of the log is read only'));
  return {
    kind: store.kind,
    append: refuse,
    readStream: (streamId, options) => store.readStream(streamId, options),
    readAll: (options) => store.readAll(options),
    headPosition: () => store.headPosition(),
    subscribe: (after) => store.subscribe(after),
    close: refuse,
  };
}

/** User commands an administrator gives (privilege `user-admin`). */
const ADMIN_COMMANDS = new Set([
  'grantAdmin',
  'revokeAdmin',
  'disable',
  'enable',
  'ban',
  'unban',
  'erase',
  'revokeCredentials',
  'assignRoles',
  'unlinkIdentity',
]);
/** User commands that set or spend a credential (privilege `credentials`). */
const CREDENTIAL_COMMANDS = new Set([
  'setPassword',
  'enrollTotp',
  'removeTotp',
  'useRecoveryCode',
  'linkIdentity',
  'recordProvisioned',
  'updateProfile',
]);

/** The core user commands as a plugin may give them; every event is stamped with the plugin's name. */
export function scopedUsers(users: Users, plugin: string, privileges: ReadonlySet<PluginPrivilege>): Users {
  const stamp = (meta: CommandMeta): CommandMeta => ({ ...meta, extra: { ...meta.extra, plugin } });
  const scoped = Object.create(users) as Users;
  scoped.execute = (userId: string, command: Exclude<UserCommand, { type: 'register' }>, meta: CommandMeta): Promise<CommandResult> => {
    if (ADMIN_COMMANDS.has(command.type) && !privileges.has('user-admin'))
      return Promise.reject(new PluginCapabilityError(plugin, `${command.type} needs the user-admin privilege`));
    if (CREDENTIAL_COMMANDS.has(command.type) && !privileges.has('credentials') && !privileges.has('user-admin'))
      return Promise.reject(new PluginCapabilityError(plugin, `${command.type} needs the credentials privilege`));
    return users.execute(userId, command, stamp(meta));
  };
  scoped.register = (input: RegisterUser, meta: CommandMeta) => {
    if ((input as { admin?: boolean }).admin && !privileges.has('user-admin'))
      return Promise.reject(new PluginCapabilityError(plugin, 'registering an administrator needs the user-admin privilege'));
    return users.register(input, stamp(meta));
  };
  return scoped;
}

/** A read-only view of a registry (no `set`, no `delete`, nothing to cast back to a Map). */
function readonlyMap<K, V>(m: Map<K, V>): ReadonlyMap<K, V> {
  return Object.freeze({
    get: (k: K) => m.get(k),
    has: (k: K) => m.has(k),
    get size() {
      return m.size;
    },
    keys: () => m.keys(),
    values: () => m.values(),
    entries: () => m.entries(),
    forEach: (fn: (v: V, k: K, map: ReadonlyMap<K, V>) => void) => m.forEach((v, k) => fn(v, k, m)),
    [Symbol.iterator]: () => m[Symbol.iterator](),
  });
}

/**
 * A plugin completes logins for the identity providers it registered; a `login-step` plugin (a
 * second factor asked for by its own enricher) also resumes a login another provider started.
 */
export function mayComplete(idp: string | undefined, ownIdps: ReadonlySet<string>, privileges: ReadonlySet<PluginPrivilege>): boolean {
  return !!idp && (ownIdps.has(idp) || privileges.has('login-step'));
}

/**
 * Why this plugin may not complete this login, or null. Naming the broker user directly
 * (`identity.userId`, as the password form does after checking the password) skips linking, so
 * it takes the `credentials` privilege: otherwise any plugin could open a session for anyone.
 */
export function loginRefusal(
  plugin: string,
  idp: string | undefined,
  identity: { userId?: string },
  ownIdps: ReadonlySet<string>,
  privileges: ReadonlySet<PluginPrivilege>,
): PluginCapabilityError | null {
  if (!mayComplete(idp, ownIdps, privileges))
    return new PluginCapabilityError(plugin, `cannot complete a login for identity provider ${idp ?? '(none)'}: it did not register it`);
  if (identity.userId !== undefined && !privileges.has('credentials'))
    return new PluginCapabilityError(plugin, 'naming the broker user of a login (identity.userId) needs the credentials privilege');
  return null;
}

/**
 * The login service for one plugin. `complete` opens a session only for an identity provider the
 * plugin registered itself, and records the plugin with the login.
 */
export function scopedLogin(
  login: LoginService,
  plugin: string,
  ownIdps: ReadonlySet<string>,
  privileges: ReadonlySet<PluginPrivilege>,
): PluginLogin {
  return {
    requests: login.requests,
    sessionSettings: login.sessionSettings,
    identityProviders: readonlyMap(login.identityProviders),
    protocols: readonlyMap(login.protocols),
    policies: readonlyMap(login.policies),
    get enrichers() {
      return login.enrichers.slice();
    },
    validateSession: (token, nowMs) => login.validateSession(token, nowMs),
    needsRefresh: (s, nowMs) => login.needsRefresh(s, nowMs),
    refresh: (s) => login.refresh(s),
    endSession: (...a) => login.endSession(...a),
    endAllSessions: (...a) => login.endAllSessions(...a),
    recordFailure: (...a) => login.recordFailure(...a),
    // Links or provisions (core commands, no session): `idp` only picks the provisioning settings.
    resolveUser: (identity, ctx) => login.resolveUser(identity, { ...ctx, plugin }),
    complete: (identity, ctx: LoginContext = {}) => {
      const refused = loginRefusal(plugin, ctx.idp, identity, ownIdps, privileges);
      if (refused) return Promise.reject(refused);
      return login.complete(identity, { ...ctx, plugin });
    },
  };
}

/** Who needs which privilege to read a service, and which services hold many values. */
export interface ServiceRules {
  /** Reading this service needs that privilege. */
  privileged: ReadonlyMap<symbol, PluginPrivilege>;
  /** Bound by the kernel; no plugin provides these. */
  kernel: ReadonlySet<symbol>;
  /** Many providers, read with getAll. */
  multi: ReadonlySet<symbol>;
  /** Tokens plugins provided so far (shared by every plugin's view): with `kernel`, all a plugin can reach. */
  provided: Set<symbol>;
}

/**
 * Typed services over the kernel's container, for one plugin: reads gated by privilege, provides
 * once (a second provider of a single-valued service is a start error), nothing after boot, no
 * rebind or unbind.
 */
export function pluginServices(
  container: Container,
  plugin: string,
  privileges: ReadonlySet<PluginPrivilege>,
  rules: ServiceRules,
  booted: () => boolean,
): PluginServices {
  const allowed = (t: symbol): void => {
    const need = rules.privileged.get(t);
    if (need && !privileges.has(need)) throw new PluginCapabilityError(plugin, `${t.description} needs the ${need} privilege`);
  };
  // The kernel's own bindings (event store, keys, config, command handler...) are no services.
  const reachable = (t: symbol): boolean => (rules.kernel.has(t) || rules.provided.has(t)) && container.isBound(t);
  return {
    get<T>(t: Token<T>): T {
      allowed(t);
      if (!reachable(t)) throw new PluginCapabilityError(plugin, `no service ${t.description} was provided`);
      return container.get<T>(t);
    },
    optional<T>(t: Token<T>): T | null {
      allowed(t);
      return reachable(t) ? container.get<T>(t) : null;
    },
    getAll<T>(t: Token<T>): T[] {
      allowed(t);
      return reachable(t) ? container.getAll<T>(t) : [];
    },
    provide<T>(t: Token<T>, value: T): void {
      if (booted()) throw new PluginCapabilityError(plugin, `services are frozen after boot (${t.description})`);
      if (rules.kernel.has(t) || (container.isBound(t) && !rules.provided.has(t)))
        throw new PluginCapabilityError(plugin, `${t.description} is the kernel's to provide`);
      if (!rules.multi.has(t) && container.isBound(t))
        throw new ConfigError(`plugin ${plugin}: service ${t.description} is already provided`);
      container.bind(t).toConstantValue(value);
      rules.provided.add(t);
    },
  };
}

/** Leases and checkpoints over the whole store, for reactors named after the plugin. */
export function pluginReactorState(store: EventStore, plugin: string): PluginReactorState {
  const own = (name: string): string => {
    if (name !== plugin && !name.startsWith(`${plugin}.`))
      throw new PluginCapabilityError(plugin, `reactor ${name} is not named after it (${plugin} or ${plugin}.<name>)`);
    return name;
  };
  return {
    lease: (options) => new StreamLease(store, { ...options, name: own(options.name) }),
    checkpoint: (reactor) => new StreamCheckpoint(store, own(reactor)),
  };
}

/** Runs a plugin's Deciders over its scoped store (the same checks as `ctx.store.append`). */
export const scopedCommands = (store: EventStore): CommandHandler => new CommandHandler(store);
