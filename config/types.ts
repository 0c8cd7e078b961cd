/** The broker's configuration after loading, interpolation and validation (see config/schema.ts). */
export interface StoreConfig {
  kind: 'sqlite' | 'memory' | 'postgres' | 'eventstoredb';
  /** sqlite: file path (default `<dataDir>/broker.db`). */
  path?: string;
  /** sqlite: `FULL` (default, durable on power loss) or `NORMAL`. */
  synchronous?: 'FULL' | 'NORMAL';
  /** postgres / eventstoredb: connection string. */
  url?: string;
  /** postgres: schema name (default `broker`). */
  schema?: string;
  /** postgres: pool size. */
  poolMax?: number;
}

/** A downstream site (seed 003): where handoffs may return, and where ban webhooks go. */
export interface SiteConfig {
  id: string;
  name: string;
  /** Exact URLs a handoff may redirect to (no prefix matching: open-redirect defence). */
  returnUrls: string[];
  /** Signed redirect handoff (plugins/hmac-handoff). */
  handoff?: {
    /** `v2` (default): HMAC-SHA256 canonical payload. `v1`: the seed's legacy HMAC-SHA1 scheme (opt-in). */
    version?: 'v1' | 'v2';
    /** Signing keys by key id; several for rotation with overlap. The first signs. */
    keys: { kid: string; secret: string }[];
    /** User fields sent to the site. */
    fields?: string[];
    ttlSeconds?: number;
  };
  /** Ban notifications (plugins/ban-broadcast). */
  webhook?: {
    url: string;
    /** `whsec_...` Standard Webhooks secret. */
    secret?: string;
    format?: 'standard-webhooks' | 'secevent';
    /** SET audience (defaults to the site id). */
    audience?: string;
  };
}

export interface BrokerConfig {
  server: {
    host: string;
    port: number;
    /** Public base URL, e.g. https://login.example.com (default http://localhost:<port>). */
    baseUrl: string;
    trustProxy: boolean;
    /** Dev mode: session cookie without `__Host-`/Secure for plain http on localhost. */
    insecureCookies: boolean;
  };
  dataDir: string;
  store: StoreConfig;
  secrets: {
    /** Master key (≥32 bytes, base64/hex or text) that derives the broker's internal keys. Generated into dataDir when absent. */
    masterKey?: string;
  };
  session: { absoluteSeconds: number; idleSeconds: number };
  /** Personal data (docs/security/erasure.md). */
  privacy?: {
    /**
     * How many days IP addresses and user agents stay readable (default 30): after that their day
     * key is destroyed, so the log's copies read `[erased]`, and the read models drop theirs.
     */
    networkDataDays?: number;
    /**
     * Also expire a known user's IPs and user agents in the log after `networkDataDays` (sealed
     * under a day key inside their user's seal: one more AES operation per login). Default false:
     * the log's copies go when the user is erased; the read models drop theirs after the days.
     */
    expireNetworkDataInLog?: boolean;
  };
  /** Where this node keeps its persisted read models (core/read/projection-engine.ts). */
  readModels?: {
    /** SQLite file; default `<store file>.read.db` beside a SQLite log, `<dataDir>/read.db` otherwise, memory for a memory log. */
    path?: string;
    /** SQLite page cache in MiB (default 32). */
    cacheMiB?: number;
    /** How long an expired session's row stays before it is dropped (default 7 days). */
    sessionRetentionSeconds?: number;
    /** /readyz answers 503 while the read models are more than this many events behind the log (default 1000). */
    readyMaxLag?: number;
  };
  /** Outgoing mail (invitations, password reset links) through an SMTP server; without it the CLI prints links. */
  mail?: { url: string; from: string };
  /** This node among several on one log (README, Operating: Several nodes). */
  cluster?: {
    /** Names this node as a lease holder in the log, the logs and /metrics. Default `<hostname>:<pid>`; unique per running process. */
    nodeId?: string;
  };
  /** The broker's JWS signing keys (adapters/crypto/signing-keys.ts); defaults: ES256, rotate after 30 days, 2 days overlap. */
  signing?: { alg?: 'ES256' | 'RS256'; rotateAfterSeconds?: number; overlapSeconds?: number };
  /** The transparency log's signed checkpoints (adapters/tlog/README.md). */
  transparency?: {
    /** Checkpoint origin and key name; default the host of server.baseUrl + `/broker-log`. */
    origin?: string;
    /** A file holding the Ed25519 seed (64 hex digits) that signs checkpoints; default: derived from the master key. */
    keyFile?: string;
    /** Issue a checkpoint once this many events were appended since the last (default 1000)... */
    everyEvents?: number;
    /** ...or this many seconds after the last, if the log grew (default 60). */
    everySeconds?: number;
    /** Witnesses each checkpoint is pushed to (C2SP tlog-witness add-checkpoint). */
    witnesses?: { name: string; url: string }[];
  };
  log: { level: string };
  admin: { apiTokens: { name: string; tokenHash: string }[] };
  /** Downstream sites, recorded as SiteRegistered/SiteUpdated/SiteRemoved events when they change. */
  sites: SiteConfig[];
  /**
   * Revision of the `sites` list (an integer you raise with every change). Several nodes: a node
   * whose revision is lower than the highest the log has applied never changes the recorded sites.
   */
  sitesRevision?: number;
  /** Plugins to load, in order, each with its own config section. */
  plugins: {
    /** A built-in plugin's name, a path (relative to the config file's folder) or a package name. */
    name: string;
    config?: unknown;
    /** Set by loadConfig, not in the file: the file URL `name` resolved to (not for a built-in). */
    module?: string;
  }[];
}
