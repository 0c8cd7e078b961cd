import { concatMap, from, type Subscription } from 'rxjs';
import {
  BusyLease,
  type ClusterNode,
  StreamCheckpoint,
  StreamLease,
  WrongExpectedRevision,
  useOnce,
  type Clock,
  type EventMap,
  type EventStore,
  type Logger,
  type PluginReactorState,
  type Reactor,
  type ReactorContext,
  type RecordedEvent,
  type SitesView,
} from '../../plugin/index.js';
import type { SiteConfig } from '../../config/types.js';
import { attemptDelivery } from './attempt.js';
import type { RetrySettings } from './delivery-policy.js';
import { foldDelivery } from './delivery-state.js';
import type { DeliveriesView } from './deliveries-view.js';
import { KIND_OF, broadcastStream, deliveryStream, endpointStream } from './events.js';
import type { HttpSender } from './http-sender.js';
import { buildNotification, type BanNotification } from './notification.js';
import type { SetSigner } from './set-token.js';

export interface BroadcasterSettings {
  concurrency: number;
  retry: RetrySettings;
  leaseMs: number;
  /** How long `stop()` waits for in-flight deliveries. */
  drainMs: number;
  /** On the very first start, also broadcast the ban events already in the log. */
  backfill: boolean;
}

export interface BroadcasterDeps {
  store: EventStore;
  sites: SitesView;
  webhookOf(siteId: string): SiteConfig['webhook'] | undefined;
  view: DeliveriesView;
  sender: HttpSender;
  clock: Clock;
  logger: Logger;
  issuer: string;
  /** This node: its id holds the lease; leases and duplicates are counted for /metrics. */
  cluster: ClusterNode;
  signer(): SetSigner | null;
  /** The kernel's lease and checkpoint for this reactor (ctx.reactorState); over `store` when absent (tests). */
  reactorState?: PluginReactorState;
}

type Broadcast = EventMap['BanBroadcastQueued'];
interface Job {
  banEventId: string;
  siteId: string;
  dueAt: number;
  state: 'scheduled' | 'ready' | 'running';
  timer?: NodeJS.Timeout;
  again: boolean;
}

const META = { actor: 'plugin:ban-broadcast' };

/**
 * The ban broadcaster (a Reactor). The log is its queue: a ban-type event becomes one
 * `BanBroadcastQueued` (written once, `no_stream`) naming the sites to tell, then every attempt's
 * outcome is appended to that delivery's own stream with the revision it was decided on. A crash
 * loses nothing: on start, unfinished deliveries come from the log (DeliveriesView) and ban events
 * after the checkpoint are fanned out again (idempotently). Only the holder of the
 * `lease-ban-broadcast` lease sends, so a cluster sends each notification once per attempt.
 */
export class BanBroadcaster implements Reactor {
  readonly name = 'ban-broadcast';
  private readonly jobs = new Map<string, Job>();
  private readonly readyQueue: string[] = [];
  private running = 0;
  private stopped = false;
  private sub: Subscription | null = null;
  private readonly lease: BusyLease;
  private readonly checkpoint: StreamCheckpoint;
  private readonly broadcasts = new Map<string, Broadcast>();
  private readonly payloads = new Map<string, Promise<BanNotification>>();
  private readonly disabled = new Map<string, string>();
  private drained: (() => void) | null = null;
  /** Deliveries waiting because another node holds the lease: run at once when it is released. */
  private readonly leaseWaiting = new Set<string>();
  /** Deliveries the previous holder may have been sending when it stopped renewing (counted if sent again). */
  private readonly inheritedFromExpired = new Set<string>();
  /** The last ban event fanned out by this node, and the checkpoint batch since it was last saved. */
  private fannedOut = 0;
  private sinceSave = 0;
  private lastSaveAt = 0;
  /** Until then this node starts no delivery and lets the lease go: it met a site it has no webhook for. */
  private yieldUntil = 0;
  private nextYieldAt = 0;
  private readonly unknownSites = new Set<string>();

  constructor(
    private readonly deps: BroadcasterDeps,
    private readonly settings: BroadcasterSettings,
  ) {
    const leaseOptions = { name: 'ban-broadcast', holder: deps.cluster.nodeId, durationMs: settings.leaseMs, clock: deps.clock };
    const lease = deps.reactorState ? deps.reactorState.lease(leaseOptions) : new StreamLease(deps.store, leaseOptions);
    this.lease = new BusyLease(lease, () => !this.stopped && this.busy(), deps.logger);
    // Work due while the old holder still held the lease may have been sent by it already.
    this.lease.onExpiredTakeover = () => {
      for (const [key, job] of this.jobs) if (job.dueAt <= this.now()) this.inheritedFromExpired.add(key);
    };
    deps.cluster.trackLease(this.name, this.lease);
    this.lease.beforeRelease = () => this.saveCheckpoint(true);
    // Rolling deploy: a node whose config lacks a site the log has (an older config) cannot sign
    // for it. It does not refuse the lease outright (if no running node knew the site, no site at
    // all would be told of any ban): it skips that site's deliveries and steps aside now and then
    // so that a node that has the site can take the lease (see run()).
    this.checkpoint = deps.reactorState ? deps.reactorState.checkpoint('ban-broadcast') : new StreamCheckpoint(deps.store, 'ban-broadcast');
  }

  private now(): number {
    return this.deps.clock.now().getTime();
  }

  async start(ctx: ReactorContext): Promise<void> {
    // Started again after stop() when the kernel releases it from quarantine.
    this.stopped = false;
    let after = await this.checkpoint.load();
    if (!this.checkpoint.exists && !this.settings.backfill) {
      // First start on an existing log: bans recorded before this plugin was enabled are history,
      // not news; sending them all now would surprise every site. `backfill: true` sends them.
      after = await this.deps.store.headPosition();
      await this.checkpoint.save(after);
    }
    for (const [siteId, url] of this.deps.view.disabledEndpoints()) this.disabled.set(siteId, url);
    for (const u of this.deps.view.unfinished()) this.schedule(u.banEventId, u.siteId, u.state.nextAttemptAt ?? this.now());
    this.sub = ctx
      .subscribe(after)
      .pipe(concatMap((e) => from(this.onEvent(e))))
      .subscribe({ error: (err) => this.deps.logger.error({ err }, 'ban broadcast subscription failed') });
  }

  private async onEvent(e: RecordedEvent): Promise<void> {
    const kind = KIND_OF[e.type];
    if (kind) return this.fanOut(e, kind);
    const d = e.data as { banEventId: string; siteId: string; nextAttemptAt?: string | null; url?: string };
    switch (e.type) {
      case 'BanBroadcastQueued': {
        const b = e.data as Broadcast;
        if (this.broadcasts.size > 10_000) this.broadcasts.clear(); // a cache: the log has them all
        this.broadcasts.set(b.banEventId, b);
        for (const s of b.siteIds) this.schedule(b.banEventId, s, this.now());
        break;
      }
      case 'BanNotificationRequeued':
        this.schedule(d.banEventId, d.siteId, this.now());
        break;
      case 'BanNotificationFailed':
        if (d.nextAttemptAt) this.schedule(d.banEventId, d.siteId, Date.parse(d.nextAttemptAt));
        break;
      case 'WebhookEndpointDisabled':
        this.disabled.set(d.siteId, d.url!);
        break;
      case 'LeaseReleased': {
        // Another node handed the lease over (idle, or a graceful stop): take over its pending work
        // now instead of at the lease's expiry.
        const l = e.data as { name: string };
        if (l.name === this.name && !this.lease.isHeld()) this.wakeLeaseWaiters();
        break;
      }
    }
  }

  /** Records which sites are to be told about this ban (once, whoever gets there first), then moves the checkpoint. */
  private async fanOut(e: RecordedEvent, kind: Broadcast['kind']): Promise<void> {
    const siteIds = this.deps.sites
      .active()
      .filter((s) => s.webhookUrl)
      .map((s) => s.siteId);
    const data: Broadcast = {
      banEventId: e.id,
      banStreamId: e.streamId,
      banPosition: e.position,
      userId: (e.data as { userId: string }).userId,
      kind,
      siteIds,
    };
    for (let wait = 100; !this.stopped; wait = Math.min(wait * 2, 10_000)) {
      try {
        // Once per ban, whoever gets there first (null: already fanned out, on a restart or another node).
        await useOnce(
          this.deps.store,
          broadcastStream(e.id),
          { type: 'BanBroadcastQueued', data },
          { ...META, causationId: e.id, correlationId: e.metadata.correlationId },
        );
        this.fannedOut = e.position;
        this.sinceSave++;
        await this.saveCheckpoint(false);
        return;
      } catch (err) {
        this.deps.logger.error({ err, banEventId: e.id }, 'ban broadcast: could not queue; retrying');
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private wakeLeaseWaiters(): void {
    const now = this.now();
    for (const key of this.leaseWaiting) {
      const job = this.jobs.get(key);
      if (job?.state === 'scheduled') this.arm(key, job, now);
    }
    this.leaseWaiting.clear();
  }

  /**
   * The checkpoint is written by the lease holder only, and batched: every 100 bans or 5 s while it
   * holds the lease, and when it gives the lease up (idle or graceful stop). Other nodes fan out too
   * (idempotently) but write no checkpoint; after a crash the next start re-fans-out from the last
   * one saved, which the `no_stream` queue append makes harmless.
   */
  private async saveCheckpoint(force: boolean): Promise<void> {
    if (this.fannedOut <= this.checkpoint.position || !this.lease.isHeld()) return;
    if (!force && this.sinceSave < 100 && this.now() - this.lastSaveAt < 5000) return;
    await this.checkpoint.save(this.fannedOut);
    this.sinceSave = 0;
    this.lastSaveAt = this.now();
  }

  private schedule(banEventId: string, siteId: string, dueAt: number): void {
    if (this.stopped) return;
    const key = `${banEventId}\n${siteId}`;
    const job = this.jobs.get(key);
    if (job) {
      if (job.state === 'running') job.again = true;
      else if (job.state === 'scheduled' && dueAt < job.dueAt) this.arm(key, job, dueAt);
      return;
    }
    const j: Job = { banEventId, siteId, dueAt, state: 'scheduled', again: false };
    this.jobs.set(key, j);
    this.arm(key, j, dueAt);
  }

  private arm(key: string, job: Job, dueAt: number): void {
    if (job.timer) clearTimeout(job.timer);
    job.dueAt = dueAt;
    job.timer = setTimeout(
      () => {
        job.state = 'ready';
        this.readyQueue.push(key);
        this.pump();
      },
      Math.max(0, dueAt - this.now()),
    );
  }

  private pump(): void {
    while (!this.stopped && this.running < this.settings.concurrency && this.readyQueue.length) {
      const key = this.readyQueue.shift()!;
      const job = this.jobs.get(key);
      if (!job || job.state !== 'ready') continue;
      job.state = 'running';
      this.running++;
      this.run(job)
        .catch((err) => {
          this.deps.logger.error(
            { err, banEventId: job.banEventId, siteId: job.siteId },
            'ban broadcast: delivery crashed; will look again',
          );
          return this.now() + this.settings.retry.initialDelayMs;
        })
        .then((nextAt) => {
          this.running--;
          this.jobs.delete(key);
          if (job.again) this.schedule(job.banEventId, job.siteId, this.now());
          else if (nextAt !== null) this.schedule(job.banEventId, job.siteId, nextAt);
          if (this.running === 0 && this.drained) this.drained();
          this.pump();
        });
    }
  }

  /** One look at one delivery: returns when to look again, or null when it is finished. */
  private async run(job: Job): Promise<number | null> {
    const key = `${job.banEventId}\n${job.siteId}`;
    if (this.lacksWebhook(job.siteId)) {
      // The log has this site but this node's config does not (a rolling deploy: its sites config is
      // older). It has no secret to sign with, and abandoning would lose the ban for that site. It
      // steps aside for a lease period (at most every other one, so its own work goes on), letting a
      // node that has the site take the lease, and looks again later.
      const state = foldDelivery(await this.deps.store.readStream(deliveryStream(job.banEventId, job.siteId)));
      if (state.status === 'delivered' || state.status === 'abandoned') return null;
      const now = this.now();
      if (now >= this.nextYieldAt) {
        this.yieldUntil = now + this.settings.leaseMs;
        this.nextYieldAt = this.yieldUntil + this.settings.leaseMs;
      }
      return now + 2 * this.settings.leaseMs;
    }
    if (this.now() < this.yieldUntil) {
      this.leaseWaiting.add(key);
      return this.yieldUntil;
    }
    if (!(await this.lease.hold())) {
      this.leaseWaiting.add(key);
      return this.lease.retryAt(this.now());
    }
    this.leaseWaiting.delete(key);
    const inherited = this.inheritedFromExpired.delete(key);
    const stream = deliveryStream(job.banEventId, job.siteId);
    for (let conflicts = 0; conflicts < 3 && !this.stopped; conflicts++) {
      const state = foldDelivery(await this.deps.store.readStream(stream));
      if (state.status === 'delivered' || state.status === 'abandoned') return null;
      if (state.nextAttemptAt && state.nextAttemptAt > this.now() + 5) return state.nextAttemptAt;
      const b = await this.broadcast(job.banEventId);
      if (!b) return null;
      const out = await attemptDelivery(
        {
          banEventId: job.banEventId,
          siteId: job.siteId,
          state,
          webhook: this.deps.sites.byId.get(job.siteId)?.removed === false ? this.deps.webhookOf(job.siteId) : undefined,
          disabledUrl: this.disabled.get(job.siteId),
          notification: () => this.payload(b),
        },
        {
          sender: this.deps.sender,
          clock: this.deps.clock,
          retry: this.settings.retry,
          issuer: this.deps.issuer,
          signer: this.deps.signer,
        },
      );
      // A POST went out (not only an abandon): the receiver saw this webhook-id, maybe again.
      const sent = out.events.some((e) => e.type !== 'BanNotificationAbandoned');
      if (sent && inherited && conflicts === 0) this.deps.cluster.countDuplicate(this.name, 'after_expired_takeover');
      try {
        await this.deps.store.append(
          stream,
          out.events.map((e) => ({ ...e, metadata: META })),
          { expectedRevision: state.revision === -1 ? 'no_stream' : state.revision },
        );
      } catch (err) {
        if (err instanceof WrongExpectedRevision) {
          // Another node recorded an outcome for this attempt meanwhile: both sent it.
          if (sent) this.deps.cluster.countDuplicate(this.name, 'concurrent');
          continue; // look again
        }
        throw err;
      }
      if (out.disable) {
        this.disabled.set(job.siteId, out.disable.url);
        await this.deps.store.append(endpointStream(job.siteId), [
          {
            type: 'WebhookEndpointDisabled',
            data: { siteId: job.siteId, url: out.disable.url, banEventId: job.banEventId, status: out.disable.status },
            metadata: META,
          },
        ]);
      }
      return out.nextAt;
    }
    return null;
  }

  /** The site is active in the log, but this node's config has no webhook for it. Said once per site. */
  private lacksWebhook(siteId: string): boolean {
    if (this.deps.sites.byId.get(siteId)?.removed !== false || this.deps.webhookOf(siteId)) return false;
    if (!this.unknownSites.has(siteId)) {
      this.unknownSites.add(siteId);
      this.deps.logger.error(
        { siteId, node: this.deps.cluster.nodeId },
        "ban broadcast: the log has this site but this node's config does not (older sites config?); leaving its deliveries to a node that has it",
      );
    }
    return true;
  }

  private async broadcast(banEventId: string): Promise<Broadcast | undefined> {
    const cached = this.broadcasts.get(banEventId);
    if (cached) return cached;
    const [first] = await this.deps.store.readStream(broadcastStream(banEventId));
    const b = first?.data as Broadcast | undefined;
    if (b) this.broadcasts.set(banEventId, b);
    return b;
  }

  private payload(b: Broadcast): Promise<BanNotification> {
    let p = this.payloads.get(b.banEventId);
    if (!p) {
      if (this.payloads.size > 1000) this.payloads.clear();
      p = buildNotification(this.deps.store, b.banStreamId, b.banEventId);
      p.catch(() => this.payloads.delete(b.banEventId));
      this.payloads.set(b.banEventId, p);
    }
    return p;
  }

  private busy(): boolean {
    if (this.running > 0) return true;
    // Yielding (see run): idle as far as the lease goes, so it is released for a node that can send.
    if (this.now() < this.yieldUntil) return false;
    if (this.readyQueue.length > 0) return true;
    const soon = this.now() + this.settings.leaseMs;
    for (const j of this.jobs.values()) if (j.dueAt <= soon) return true;
    return false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sub?.unsubscribe();
    for (const j of this.jobs.values()) if (j.timer) clearTimeout(j.timer);
    if (this.running > 0) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        setTimeout(resolve, this.settings.drainMs).unref();
      });
    }
    await this.lease.stop();
    await this.deps.sender.close();
  }
}
