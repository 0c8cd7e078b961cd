import os from 'node:os';
import {
  AuditView,
  BansView,
  CommandHandler,
  IdentitiesView,
  NotFound,
  ProjectionEngine,
  SessionsView,
  SitesView,
  Users,
  UsersView,
  type EventStore,
  type AnyProjection,
  type ReadModels,
} from '../../core/index.js';
import { loadConfig } from '../../config/load.js';
import type { BrokerConfig } from '../../config/types.js';
import { openEventStore } from '../event-stores/open.js';
import { withPersonalData } from '../crypto/personal-data.js';
import { Keys, loadMasterKey } from '../kernel/master-key.js';
import { openSqliteReadDatabase } from '../read-models/sqlite-read-database.js';
import { openReadDatabase } from '../read-models/open.js';
import { loadEventCatalogs } from '../kernel/resolve-plugin.js';
import { err, type CliIo } from './io.js';

/** What an offline command works with: the configured store, opened directly (no HTTP server). */
export interface CliContext {
  config: BrokerConfig;
  store: EventStore;
  /** The master key's derivations (data keys, checkpoint signing). */
  keys: Keys;
  users: Users;
  /** `cli:<os user>`: who did it, recorded in every event the command writes. */
  actor: string;
  close(): Promise<void>;
}

export function cliActor(env: NodeJS.ProcessEnv): string {
  let name: string | undefined;
  try {
    name = os.userInfo().username;
  } catch {
    name = env.USER ?? env.USERNAME;
  }
  return `cli:${name || 'unknown'}`;
}

export async function openCliContext(argv: string[], io: CliIo): Promise<CliContext> {
  const { config } = loadConfig({ argv, env: io.env, cwd: io.cwd });
  // The configured plugins' event types, as the server registers them: without them replay and
  // audit verify would report a plugin's events (HandoffIssued, TotpCodeAccepted...) as unknown.
  for (const problem of await loadEventCatalogs(config)) err(io, `warning: ${problem}; its events will read as unknown`);
  const keys = new Keys(loadMasterKey(config.secrets.masterKey, config.dataDir));
  // Opened like the server opens it: personal fields read in clear while their keys exist.
  const store = withPersonalData(await openEventStore(config.store, config.dataDir), keys.derive('data-keys'), {
    expireNetworkDataInLog: config.privacy?.expireNetworkDataInLog,
  });
  return {
    config,
    store,
    keys,
    users: new Users(store, new CommandHandler(store), keys.derive('reservations')),
    actor: cliActor(io.env),
    close: () => store.close(),
  };
}

function coreReadModels(): ReadModels {
  return {
    users: new UsersView(),
    identities: new IdentitiesView(),
    bans: new BansView(),
    audit: new AuditView(),
    sessions: new SessionsView(),
    sites: new SitesView(),
  };
}

/** Fresh core read models in a fresh in-memory engine, for an offline replay from the start. */
export function freshReadModels(extra: AnyProjection[] = []): { engine: ProjectionEngine; read: ReadModels } {
  const read = coreReadModels();
  const engine = new ProjectionEngine(openSqliteReadDatabase({ path: ':memory:' }));
  for (const p of [...Object.values(read), ...extra]) engine.add(p);
  return { engine, read };
}

/**
 * The node's persisted read models (the file the broker keeps), caught up with the log's head: a
 * command reads indexes instead of scanning the log. Safe beside a running broker: each batch reads
 * the committed checkpoint inside its write transaction, so no event is applied twice.
 */
export async function nodeReadModels(
  ctx: CliContext,
  extra: AnyProjection[] = [],
): Promise<{ engine: ProjectionEngine; read: ReadModels; close(): void }> {
  const db = openReadDatabase(ctx.config);
  const read = coreReadModels();
  const engine = new ProjectionEngine(db);
  for (const p of [...Object.values(read), ...extra]) engine.add(p);
  const from = await engine.prepare(ctx.store);
  const head = await ctx.store.headPosition();
  let after = from;
  while (after < head) {
    const page = await ctx.store.readAll({ after, limit: 1000 });
    if (!page.length) break;
    engine.applyBatch(page);
    after = page[page.length - 1].position;
  }
  return { engine, read, close: () => db.close() };
}

/** `<id|email>` → user id, from the log (reservations and the user stream), not a projection. */
export async function resolveUser(users: Users, ref: string): Promise<string> {
  const id = ref.includes('@') ? await users.findByEmail(ref) : ref;
  if (!id || !(await users.load(id)).exists) throw new NotFound(`no user ${ref}`);
  return id;
}
