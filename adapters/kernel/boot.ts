import os from 'node:os';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import { Container } from 'inversify';
import { pino } from 'pino';
import type { Observable } from 'rxjs';
import { Ajv } from 'ajv';
import {
  AuditView,
  BansView,
  ClusterNode,
  CommandHandler,
  IdentitiesView,
  LoginRequestCodec,
  LoginService,
  PasswordLinks,
  ProjectionEngine,
  ReactorSupervisor,
  SessionsView,
  DEFAULT_NETWORK_DATA_DAYS,
  SitesView,
  Users,
  UsersView,
  cryptoIds,
  systemClock,
  type Clock,
  type EventStore,
  type Ids,
  type Logger,
  type PluginPrivilege,
  type Quarantine,
  type ReadDatabase,
  type ReadModels,
  type RecordedEvent,
} from '../../core/index.js';
import type { BrokerConfig } from '../../config/types.js';
import { ConfigError } from '../../config/errors.js';
import { describeSchemaErrors } from '../../config/schema-errors.js';
import { openEventStore, sqlitePath } from '../event-stores/open.js';
import { openReadDatabase } from '../read-models/open.js';
import { createWebKitFactory } from '../http/web-kit.js';
import { registerCoreRoutes } from '../http/core-routes.js';
import { securityHeaders } from '../http/security-headers.js';
import { responseHook } from '../http/response-hook.js';
import { noStore } from '../http/no-store.js';
import { sendError } from '../http/errors.js';
import { markRequestStart, registerMetrics, registerMetricsRoute } from '../http/metrics.js';
import { brokerLoggerOptions, requestIds, requestLogging } from '../http/logging.js';
import { resolvePlugin } from './resolve-plugin.js';
import { Keys, loadMasterKey } from './master-key.js';
import { PersonalDataStore, withPersonalData } from '../crypto/personal-data.js';
import { MasterKeyCheck } from './key-check.js';
import { TOKENS } from './tokens.js';
import { BUILTIN_PLUGINS } from './builtin-plugins.js';
import {
  EventOwners,
  loginRefusal,
  pluginKeys,
  pluginReactorState,
  pluginServices,
  scopedCommands,
  scopedLogin,
  scopedStore,
  scopedUsers,
  type ServiceRules,
} from './plugin-capabilities.js';
import { createMailer } from '../mail/mailer.js';
import { SiteRegistry, sitesConfigState, syncSites, warnSitesDisagreement } from './site-registry.js';
import { SigningKeys, signingSettings } from '../crypto/signing-keys.js';
import { registerJwksRoute } from '../crypto/jwks-route.js';
import { installTransparency } from '../tlog/install.js';
import { TotpService } from '../crypto/totp.js';

import type { Plugin, PluginCtx } from './plugin-types.js';

// Kept for existing importers; new code imports them from plugin/index.ts (or plugin-types.ts).
export type { Plugin, PluginCtx } from './plugin-types.js';

export interface BootOptions {
  /** Use this store instead of opening the configured one (tests). */
  store?: EventStore;
  clock?: Clock;
  ids?: Ids;
  /** Extra plugin objects (tests, embedding), loaded after the configured ones. */
  plugins?: { plugin: Plugin<any>; config?: unknown }[];
  logger?: pino.Logger;
  /** Use this read database instead of the configured one (tests). */
  readDb?: ReadDatabase;
  /** Start even if the log contradicts its latest signed checkpoint (recorded as an event). */
  acceptLogContradiction?: boolean;
  /**
   * Seal personal fields under per-user keys (default true, where the store keeps data keys).
   * False only for benchmarks that measure what sealing costs: such a log holds personal data in clear.
   */
  sealPersonalData?: boolean;
}

export interface Broker {
  config: BrokerConfig;
  app: FastifyInstance;
  container: Container;
  store: EventStore;
  projections: ProjectionEngine;
  read: ReadModels;
  users: Users;
  commands: CommandHandler;
  login: LoginService;
  keys: Keys;
  sites: SiteRegistry;
  cluster: ClusterNode;
  /** Runs the plugins' reactors; a reactor that throws is quarantined there. */
  reactors: ReactorSupervisor;
  /** The projections and reactors stopped on an event they threw on (/readyz, /metrics). */
  quarantines(): Quarantine[];
  clock: Clock;
  logger: pino.Logger;
  /** Subscribes projections, waits for them to catch up, starts reactors. Does not listen. */
  ready(): Promise<void>;
  /** `ready()` then listen on config.server. Returns the bound URL. */
  listen(): Promise<string>;
  /** Graceful stop: stop taking requests, drain, stop reactors and plugins, close the store. */
  stop(): Promise<void>;
}

// One ConfigError for the loader and the kernel, so the CLI maps both to exit code 2.
export { ConfigError } from '../../config/errors.js';

let brokersInProcess = 0;

/**
 * Opens what the broker owns for its life (the store's lock, the master key, the store) and builds
 * the broker on them; if the build fails, closes what it opened. A bad master key throws before
 * the store is touched; a second broker on the same SQLite file throws StoreInUse.
 */
export async function bootBroker(config: BrokerConfig, options: BootOptions = {}): Promise<Broker> {
  // A store passed in is the caller's to share (tests run two nodes on one file on purpose).
  const lock =
    !options.store && config.store.kind === 'sqlite'
      ? (await import('../event-stores/sqlite-lock.js')).lockSqliteStore(sqlitePath(config.store, config.dataDir))
      : null;
  let store: EventStore | undefined;
  // The logger first: the store reports lost connections and retries through it.
  const logger = options.logger ?? pino(brokerLoggerOptions(config.log.level));
  options = { ...options, logger };
  try {
    const keys = new Keys(
      loadMasterKey(config.secrets.masterKey, config.store.kind === 'memory' && !options.store ? null : config.dataDir),
    );
    store = options.store ?? (await openEventStore(config.store, config.dataDir, logger as unknown as Logger));
    // Personal fields are sealed under per-user keys on the way in and opened on the way out (issue 19).
    const opened =
      options.sealPersonalData === false
        ? store
        : withPersonalData(store, keys.derive('data-keys'), { expireNetworkDataInLog: config.privacy?.expireNetworkDataInLog });
    return await assemble(config, options, opened, keys, () => lock?.release());
  } catch (e) {
    if (!options.store) await store?.close();
    lock?.release();
    throw e;
  }
}

async function assemble(
  config: BrokerConfig,
  options: BootOptions,
  store: EventStore,
  keys: Keys,
  releaseLock: () => void,
): Promise<Broker> {
  const logger =
    options.logger ??
    // Secrets never reach the logs (CONVENTIONS): redaction and query-string scrubbing live in logging.ts.
    pino(brokerLoggerOptions(config.log.level));
  const clock = options.clock ?? systemClock;
  const ids = options.ids ?? cryptoIds;

  // Host and pid by default: unique per running process, and readable in a log line (a second
  // broker in one process, as in tests or an embedding, gets `#2`...).
  const booted = ++brokersInProcess;
  const cluster = new ClusterNode(config.cluster?.nodeId ?? `${os.hostname()}:${process.pid}${booted > 1 ? `#${booted}` : ''}`);
  const commands = new CommandHandler(store);
  const users = new Users(store, commands, keys.derive('reservations'));
  const readDb = options.readDb ?? openReadDatabase(config, !!options.store);
  const projections = new ProjectionEngine(readDb);
  const read: ReadModels = {
    users: new UsersView(),
    identities: new IdentitiesView(),
    bans: new BansView(),
    audit: new AuditView(),
    sessions: new SessionsView(
      config.readModels?.sessionRetentionSeconds,
      (config.privacy?.networkDataDays ?? DEFAULT_NETWORK_DATA_DAYS) * 86_400,
    ),
    sites: new SitesView(),
  };
  for (const p of Object.values(read)) projections.add(p);
  // The broker's JWS keys (OAuth tokens, ban SETs, gateway tokens): a projection over `signing-keys`.
  const signingKeys = new SigningKeys(store, keys.derive('signing-keys'), clock, signingSettings(config.signing), (m) => logger.warn(m));
  projections.add(signingKeys);
  const keyCheck = new MasterKeyCheck();
  projections.add(keyCheck);
  // The core's own read models: every login, session check, ban and signature answers from them, so
  // one of them quarantined makes the node not ready (a stopped bans view would let a banned user
  // in). A plugin's projection or reactor quarantined leaves it ready but degraded.
  const coreProjections = new Set(projections.names);
  projections.onUnknown = (r) => logger.warn({ event: r }, 'unknown event in the log (skipped)');
  projections.onError = (err) => logger.error({ err }, 'projections could not apply events (will retry)');
  projections.onFailure = (f) =>
    logger.error(
      { projection: f.projection, position: f.position, err: f.error },
      'projection threw on an event; quarantined (stopped until broker projections retry <name>; see projection_quarantine)',
    );
  projections.onRelease = (name) => logger.info({ projection: name }, 'projection released from quarantine; catching up');
  const reactors = new ReactorSupervisor(store, logger as unknown as Logger);
  // Retry requests reach every node through its own subscription to the log.
  projections.onRetryRequested = (name, position) => void reactors.retryRequested(name, position);
  const quarantines = (): Quarantine[] => [...projections.quarantines(), ...reactors.quarantines()];
  projections.onRebuild = (name, reason) => logger.warn({ projection: name, reason }, 'projection rebuilds from the log');
  const login = new LoginService(
    store,
    users,
    read,
    projections,
    new LoginRequestCodec(keys.derive('login-request')),
    clock,
    ids,
    config.session,
  );

  const container = new Container();
  container.bind(TOKENS.Config).toConstantValue(config);
  container.bind(TOKENS.EventStore).toConstantValue(store);
  container.bind(TOKENS.CommandHandler).toConstantValue(commands);
  container.bind(TOKENS.Users).toConstantValue(users);
  container.bind(TOKENS.Projections).toConstantValue(projections);
  container.bind(TOKENS.ReadModels).toConstantValue(read);
  container.bind(TOKENS.LoginService).toConstantValue(login);
  container.bind(TOKENS.Clock).toConstantValue(clock);
  container.bind(TOKENS.Ids).toConstantValue(ids);
  container.bind(TOKENS.Logger).toConstantValue(logger);
  container.bind(TOKENS.Cluster).toConstantValue(cluster);
  container.bind(TOKENS.Keys).toConstantValue(keys);
  container.bind(TOKENS.SigningKeys).toConstantValue(signingKeys);
  const sites = new SiteRegistry(config.sites ?? [], config.sitesRevision ?? 0);
  container.bind(TOKENS.Sites).toConstantValue(sites);
  const mailer = createMailer(config.mail);
  container.bind(TOKENS.Mailer).toConstantValue(mailer);

  const logging = requestLogging(logger);
  const nextRequestId = requestIds();
  const app = Fastify({
    trustProxy: config.server.trustProxy,
    bodyLimit: 256 * 1024,
    // Identifiers in URLs are short; a huge URL is an attack, not a login.
    routerOptions: { maxParamLength: 512 },
    // Called once per request, first: the request's start, for the duration metrics (so no
    // `requestIdHeader` and no scope's `setGenReqId`: either would skip the stamp).
    genReqId: (raw) => {
      markRequestStart(raw);
      return nextRequestId();
    },
    // Each request's child logger is built on its first log line, not for every request; fastify's
    // request lines are built only when written, and its per-request listeners only when they can be.
    ...logging.options,
  });
  logging.install(app);
  // Cookies are parsed on demand (web-kit requestCookies), not in a hook every request pays.
  await app.register(fastifyCookie, { hook: false });
  await app.register(fastifyFormbody, { bodyLimit: 64 * 1024 });
  const headers = await securityHeaders(app, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        formAction: ['*'],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        scriptSrc: ["'self'"],
        connectSrc: ["'self'"],
      },
    },
    crossOriginResourcePolicy: { policy: 'same-site' },
  });
  // Security headers and request metrics: one onSend hook bound to each route as it is registered
  // (installed before any route and after securityHeaders' onRoute hook, so it sees core and plugin
  // routes with their helmet options resolved; 404s of any scope get it from an app-wide hook).
  const metrics = registerMetrics(app, {
    store,
    projections,
    cluster,
    quarantines,
    components: () => [
      ...projections.names.map((c) => ({ component: c, kind: 'projection' as const })),
      ...reactors.names.map((c) => ({ component: c, kind: 'reactor' as const })),
    ],
    sitesConfig: () => sitesConfigState(read.sites, sites),
  });
  const perResponse = responseHook([headers, noStore, metrics.record]);
  perResponse.install(app);
  registerMetricsRoute(app, metrics);
  app.setErrorHandler((err, req, reply) => sendError(req, reply, err));
  app.setNotFoundHandler((req, reply) =>
    sendError(
      req,
      reply,
      Object.assign(new Error(`no route ${req.method} ${req.url.split('?')[0]}`), { statusCode: 404, code: 'not_found' }),
    ),
  );

  const webFor = createWebKitFactory(
    login,
    clock,
    ids,
    { secure: !config.server.insecureCookies },
    { read, apiTokens: config.admin?.apiTokens ?? [] },
  );
  const stopHooks: (() => Promise<void> | void)[] = [];
  const events = (after = 0): Observable<RecordedEvent> => store.subscribe(after);

  const state = { ready: false, stopping: false };
  // Until the projections have caught up once, only health, readiness and metrics answer: a
  // request served from rows behind the log could miss a ban recorded before this start.
  app.addHook('onRequest', async (req, reply) => {
    if (state.ready) return;
    // The path without its query: a probe may add one (`/healthz?probe=1`), and a liveness probe
    // answered 503 through a long catch-up gets the process killed, again and again.
    const q = req.url.indexOf('?');
    const url = q < 0 ? req.url : req.url.slice(0, q);
    if (url === '/healthz' || url === '/readyz' || url === '/metrics') return;
    return reply.code(503).header('retry-after', '1').send({ error: 'starting', message: 'the broker is catching up with its log' });
  });
  registerCoreRoutes(app, {
    config,
    projections,
    store,
    login,
    webFor,
    state,
    read,
    quarantines,
    critical: (q) => q.kind === 'projection' && coreProjections.has(q.component),
    sitesConfig: () => sitesConfigState(read.sites, sites),
  });
  registerJwksRoute(app, signingKeys);
  // The checkpoint routes and issuer; the start check against the latest checkpoint runs in ready().
  const transparency = installTransparency({
    app,
    store,
    config,
    keys,
    clock,
    logger: logger as unknown as Logger,
    acceptContradiction: options.acceptLogContradiction,
  });
  const checkpoints = transparency?.issuer ?? null;
  container.bind(TOKENS.Checkpoints).toConstantValue(checkpoints);

  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  const entries: { plugin: Plugin<any>; config?: unknown; at: (string | number)[] }[] = [];
  for (const [i, p] of config.plugins.entries())
    entries.push({ plugin: await resolvePlugin(p), config: p.config ?? {}, at: ['plugins', i, 'config'] });
  for (const p of options.plugins ?? []) entries.push({ plugin: p.plugin, config: p.config ?? {}, at: [`plugin ${p.plugin.name}`] });

  // What plugins reach through ctx.services, and who may (see plugin-capabilities.ts).
  container.bind(TOKENS.AdminApiTokens).toConstantValue(config.admin?.apiTokens ?? []);
  // Core credential services over the whole store (they write core facts: TotpCodeAccepted,
  // PasswordLinkIssued/Used) for the plugins with the `credentials` privilege.
  container.bind(TOKENS.PasswordLinks).toConstantValue(new PasswordLinks(store, clock));
  const totpKey = keys.derive('totp-secret');
  container.bind(TOKENS.Totp).toConstantValue((issuer: string) => new TotpService(store, totpKey, clock, issuer));
  const serviceRules: ServiceRules = {
    privileged: new Map<symbol, PluginPrivilege>([
      [TOKENS.Sites, 'sites'],
      [TOKENS.SigningKeys, 'signing'],
      [TOKENS.Mailer, 'mail'],
      [TOKENS.AdminApiTokens, 'console'],
      [TOKENS.ConsoleSource, 'console'],
      [TOKENS.PasswordLinks, 'credentials'],
      [TOKENS.Totp, 'credentials'],
    ]),
    kernel: new Set([TOKENS.Sites, TOKENS.SigningKeys, TOKENS.Mailer, TOKENS.AdminApiTokens, TOKENS.PasswordLinks, TOKENS.Totp]),
    multi: new Set([TOKENS.ConsoleSource]),
    provided: new Set(),
  };
  const owners = new EventOwners(new Ajv({ allErrors: true, strict: false }));
  // Extension points and services take additions while plugins register, never after.
  let registering = true;
  const open = (plugin: string, what: string): void => {
    if (!registering) throw new ConfigError(`plugin ${plugin}: ${what} after boot (registries are frozen once every plugin registered)`);
  };
  const names = new Set<string>();

  for (const { plugin, config: raw, at } of entries) {
    const pluginConfig = structuredClone(raw ?? {});
    if (plugin.configSchema) {
      const validate = ajv.compile(plugin.configSchema);
      if (!validate(pluginConfig)) {
        // Every error, each with its key path (`plugins[2].config.clients[0].secret: is required`).
        const problems = describeSchemaErrors(validate.errors, at);
        throw new ConfigError(
          problems.length === 1
            ? problems[0]
            : `plugin ${plugin.name}: ${problems.length} errors in its config:\n  ${problems.join('\n  ')}`,
        );
      }
    }
    if (names.has(plugin.name)) throw new ConfigError(`plugin ${plugin.name} is loaded twice`);
    names.add(plugin.name);
    // Built in: the very object the built-in module exports, not merely the name.
    const load = BUILTIN_PLUGINS[plugin.name];
    const builtin = !!load && (await load()).default === plugin;
    owners.claim(plugin, builtin);
    const privileges = new Set(builtin ? (plugin.privileges ?? []) : []);
    const ownIdps = new Set<string>();
    const pstore = scopedStore(store, plugin, owners);
    const plog = logger.child({ plugin: plugin.name }) as unknown as Logger;
    await app.register(async (scope) => {
      const web = webFor(scope);
      const ctx: PluginCtx<unknown> = {
        config: pluginConfig,
        logger: plog,
        store: pstore,
        commands: scopedCommands(pstore),
        users: scopedUsers(users, plugin.name, privileges),
        projections,
        read,
        login: scopedLogin(login, plugin.name, ownIdps, privileges),
        keys: pluginKeys(keys, plugin.name, builtin),
        reactorState: pluginReactorState(store, plugin.name),
        services: pluginServices(container, plugin.name, privileges, serviceRules, () => !registering),
        clock,
        ids,
        baseUrl: config.server.baseUrl,
        cluster,
        events,
        web: {
          ...web,
          // Only for an identity provider this plugin registered; the login records the plugin.
          finishLogin: (req, reply, identity, loginRequestToken, idpId) => {
            const refused = loginRefusal(plugin.name, idpId, identity, ownIdps, privileges);
            if (refused) return Promise.reject(refused);
            return web.finishLogin(req, reply, identity, loginRequestToken, idpId, plugin.name);
          },
        },
        add: {
          identityProvider: (idp) => {
            open(plugin.name, 'identityProvider');
            if (login.identityProviders.has(idp.id)) throw new ConfigError(`identity provider id ${idp.id} is used twice`);
            login.identityProviders.set(idp.id, idp);
            ownIdps.add(idp.id);
            container.bind(TOKENS.IdentityProvider).toConstantValue(idp);
          },
          downstreamProtocol: (p) => {
            open(plugin.name, 'downstreamProtocol');
            if (login.protocols.has(p.name))
              throw new ConfigError(`plugin ${plugin.name}: downstream protocol ${p.name} is already registered`);
            login.protocols.set(p.name, p);
            container.bind(TOKENS.DownstreamProtocol).toConstantValue(p);
          },
          enricher: (e) => {
            open(plugin.name, 'enricher');
            login.enrichers.push(e);
            container.bind(TOKENS.IdentityEnricher).toConstantValue(e);
          },
          provisioningPolicy: (p) => {
            open(plugin.name, 'provisioningPolicy');
            if (login.policies.has(p.name))
              throw new ConfigError(`plugin ${plugin.name}: provisioning policy ${p.name} is already registered`);
            login.policies.set(p.name, p);
            container.bind(TOKENS.ProvisioningPolicy).toConstantValue(p);
          },
          projection: (p) => {
            open(plugin.name, 'projection');
            projections.add(p);
          },
          reactor: (r) => {
            open(plugin.name, 'reactor');
            reactors.add(r);
            container.bind(TOKENS.Reactor).toConstantValue(r);
          },
        },
        onStop: (fn) => stopHooks.push(fn),
      };
      await plugin.register(ctx);
    });
  }
  registering = false;
  Object.freeze(login.enrichers);

  let maintenance: NodeJS.Timeout | null = null;
  // Retention of IP addresses and user agents in the log: the keys of days past it are destroyed
  // (every node tries; destroying is idempotent).
  const networkDataDays = config.privacy?.networkDataDays ?? DEFAULT_NETWORK_DATA_DAYS;
  const expireNetworkData = async (): Promise<void> => {
    if (!(store instanceof PersonalDataStore)) return;
    const cutoff = new Date(clock.now().getTime() - networkDataDays * 86_400_000).toISOString().slice(0, 10);
    const destroyed = await store.destroyDayKeysBefore(cutoff);
    if (destroyed.length) logger.info({ keys: destroyed }, 'network data past retention: day keys destroyed');
  };
  const broker: Broker = {
    config,
    app,
    container,
    store,
    projections,
    read,
    users,
    commands,
    login,
    keys,
    sites,
    cluster,
    reactors,
    quarantines,
    clock,
    logger,
    async ready() {
      if (state.ready) return;
      await app.ready();
      const from = await projections.prepare(store);
      const head = await store.headPosition();
      logger.info({ from, head, projections: projections.status().map((p) => `${p.name}@${p.checkpoint}`) }, 'projections resume');
      projections.start(store);
      await waitCaughtUp(projections, head, logger);
      maintenance = setInterval(() => {
        try {
          if (projections.stalled) projections.retry();
          projections.maintain(clock.now());
        } catch (err) {
          logger.error({ err }, 'read model maintenance failed');
        }
        void expireNetworkData().catch((err: unknown) => logger.error({ err }, 'could not destroy expired day keys'));
      }, 60_000);
      maintenance.unref();
      await expireNetworkData();
      await signingKeys.load();
      keyCheck.verify(keys, signingKeys); // a wrong master key stops here, before it signs anything
      await transparency?.checkAtStart(); // a log that contradicts its latest signed checkpoint stops here
      await signingKeys.ensure();
      signingKeys.start();
      const synced = await syncSites(store, read.sites, sites);
      if (synced.position) await projections.waitFor(synced.position);
      warnSitesDisagreement(logger, synced.state);
      await reactors.startAll();
      checkpoints?.start();
      state.ready = true;
    },
    async listen() {
      // Listen first: /healthz answers and /readyz says how far behind the log we are while the
      // projections catch up; other routes answer 503 until then.
      await app.ready();
      const url = await app.listen({ port: config.server.port, host: config.server.host });
      await broker.ready();
      return url;
    },
    async stop() {
      if (state.stopping) return;
      state.stopping = true;
      await app.close(); // stops accepting, waits for in-flight requests
      await reactors.stopAll();
      signingKeys.stop();
      await checkpoints?.stop();
      for (const fn of stopHooks.reverse()) await fn();
      mailer?.close();
      if (maintenance) clearInterval(maintenance);
      projections.stop();
      await store.close();
      if (!options.readDb) readDb.close();
      releaseLock();
    },
  };
  return broker;
}

/**
 * Waits until the projections have applied `head`, logging progress every few seconds: no fixed
 * timeout (a large rebuild takes as long as it takes; /readyz says how far it is).
 */
async function waitCaughtUp(projections: ProjectionEngine, head: number, logger: pino.Logger): Promise<void> {
  const started = Date.now();
  let last = projections.position;
  for (;;) {
    try {
      await projections.waitFor(head, 5000);
      if (head > 0) logger.info({ head, ms: Date.now() - started }, 'projections caught up');
      return;
    } catch (err) {
      if ((err as Error).message === 'projection engine stopped') throw err;
      const at = projections.position;
      logger.info(
        {
          position: at,
          head,
          eventsPerSecond: Math.round((at - last) / 5),
          rebuilding: projections
            .status()
            .filter((p) => p.rebuild)
            .map((p) => p.name),
        },
        'projections catching up',
      );
      last = at;
    }
  }
}
