import pg from 'pg';

/**
 * A dedicated connection that LISTENs on the store's channel and calls `onWake` for every
 * notification. When the connection drops it reconnects with backoff and calls `onWake` once it
 * listens again, because notifications sent while it was away are lost: subscribers then re-read
 * from their cursor, so nothing is missed (NOTIFY is only ever a wake-up, never the data).
 */
export class PgNotificationListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private connecting: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private delay = 25;
  /** Times a connection was (re)established; observable by tests. */
  connects = 0;

  constructor(
    private readonly connectionString: string,
    private readonly channel: string,
    private readonly applicationName: string,
    private readonly onWake: () => void,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly onReconnected: () => void = () => {},
  ) {}

  start(): Promise<void> {
    if (!this.connecting) this.connecting = this.connect();
    return this.connecting;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.connectionString, application_name: this.applicationName });
    let failed = false;
    const lost = (err?: unknown): void => {
      if (failed) return;
      failed = true;
      // Our own stop ends the connection too: that is no fault.
      if (!this.stopped && (err || this.client === client)) this.onError(err ?? new Error('connection ended'));
      if (this.client === client) this.client = null;
      client.end().catch(() => {});
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', () => this.onWake());
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
      if (this.stopped) {
        failed = true;
        await client.end().catch(() => {});
        return;
      }
      this.client = client;
      this.connects++;
      if (this.connects > 1) this.onReconnected();
      this.delay = 25;
      // Anything committed while we were not listening: let subscribers look.
      this.onWake();
    } catch (err) {
      lost(err);
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connecting = this.connect();
    }, this.delay);
    this.timer.unref();
    this.delay = Math.min(this.delay * 2, 1_000);
  }

  /** Whether a connection is currently listening. */
  get listening(): boolean {
    return this.client !== null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const c = this.client;
    this.client = null;
    if (c) await c.end().catch(() => {});
  }
}
