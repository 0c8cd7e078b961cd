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
  type Projection,
  type ReadModels,
} from '../../core/index.js';
import { loadConfig } from '../../config/load.js';
import type { BrokerConfig } from '../../config/types.js';
import { openEventStore } from '../event-stores/open.js';
import type { CliIo } from './io.js';

/** What an offline command works with: the configured store, opened directly (no HTTP server). */
export interface CliContext {
  config: BrokerConfig;
  store: EventStore;
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
  const store = await openEventStore(config.store, config.dataDir);
  return {
    config,
    store,
    users: new Users(store, new CommandHandler(store)),
    actor: cliActor(io.env),
    close: () => store.close(),
  };
}

/** Fresh core read models in a fresh engine, for an offline replay. */
export function freshReadModels(extra: Projection[] = []): { engine: ProjectionEngine; read: ReadModels } {
  const read: ReadModels = {
    users: new UsersView(),
    identities: new IdentitiesView(),
    bans: new BansView(),
    audit: new AuditView(),
    sessions: new SessionsView(),
    sites: new SitesView(),
  };
  const engine = new ProjectionEngine();
  for (const p of [...Object.values(read), ...extra]) engine.add(p);
  return { engine, read };
}

/** `<id|email>` → user id, from the log (reservations and the user stream), not a projection. */
export async function resolveUser(users: Users, ref: string): Promise<string> {
  const id = ref.includes('@') ? await users.findByEmail(ref) : ref;
  if (!id || !(await users.load(id)).exists) throw new NotFound(`no user ${ref}`);
  return id;
}
