import { createCipheriv, createDecipheriv, randomBytes, randomFillSync, randomUUID } from 'node:crypto';
import { Observable } from 'rxjs';
import {
  ERASED,
  SEALED_FIELD,
  isSealed,
  personalFieldsOf,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SealedPersonalData,
  type DataKeyTable,
  DataKeyConflict,
} from '../../core/index.js';

/**
 * Crypto-shredding (issue 19). Personal fields of an event (core/events/personal-fields.ts) are
 * encrypted with AES-256-GCM under the data key of the user they are about before the store
 * seals the event, so its hash, its stream's chain and the transparency tree cover ciphertext.
 * A known user's network fields (`ip`, `userAgent`) are sealed with the rest under the user's key;
 * with `expireNetworkDataInLog` they are sealed first under the key of their day, so erasing the
 * user or letting the day expire (`privacy.networkDataDays`) each makes them unreadable. An event
 * about nobody (a failed login for an unknown address) and `metadata.ip`/`userAgent` (an admin's
 * address on their actions) are sealed under the day's key alone.
 *
 * Data keys are random, wrapped (AES-256-GCM, AAD = key id) by a key derived from the master key,
 * and kept in the store's key table (never in the log). Readers see plaintext; once a key is
 * destroyed its fields read `[erased]`. Events written before this existed carry no sealed part
 * and read as they are (docs/security/erasure.md says what that means for erasing those users).
 */

export const NETWORK_FIELDS: ReadonlySet<string> = new Set(['ip', 'userAgent']);

const userKeyId = (userId: string): string => `u:${userId}`;
const dayKeyId = (iso: string): string => `d:${iso.slice(0, 10)}`;

/** A data key that the master key in use does not open: another broker's master key is configured. */
export class DataKeyUnreadable extends Error {
  override readonly name = 'DataKeyUnreadable';
  constructor(readonly keyId: string) {
    super(
      `data key ${keyId} does not open with this master key: is this the master key the broker writing the log uses (secrets.masterKey or <dataDir>/master.key)?`,
    );
  }
}

/** Unwrapped keys by id; `null`: destroyed. Bounded: the oldest entries leave first. */
class KeyRing {
  private readonly cache = new Map<string, Buffer | null>();
  constructor(
    private readonly table: DataKeyTable,
    private readonly wrapKey: Buffer,
    private readonly max = 100_000,
  ) {
    if (wrapKey.length !== 32) throw new Error('the data-key wrapping key must be 32 bytes');
  }

  /** The key when known here: Buffer, null (destroyed), undefined (not loaded or does not exist). */
  peek(id: string): Buffer | null | undefined {
    return this.cache.get(id);
  }

  private remember(id: string, key: Buffer | null): void {
    if (this.cache.size >= this.max) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(id, key);
  }

  /** Loads keys from the table; ids that do not exist there stay unknown (they read as erased). */
  async load(ids: Iterable<string>): Promise<void> {
    const want = [...new Set(ids)].filter((id) => !this.cache.has(id));
    if (!want.length) return;
    const rows = await this.table.get(want);
    for (const [id, wrapped] of rows) this.remember(id, wrapped ? this.unwrap(id, wrapped) : null);
  }

  /** Loads, and creates the keys that do not exist yet (for an append). */
  async ensure(ids: Iterable<string>): Promise<void> {
    const all = [...new Set(ids)];
    await this.load(all);
    for (const id of all) {
      if (this.cache.has(id)) continue;
      const key = randomBytes(32);
      const stored = await this.table.create(id, this.wrap(id, key));
      this.remember(id, stored ? this.unwrap(id, stored) : null);
    }
  }

  /** New keys for ids the table does not have, not yet remembered: they exist once their append commits. */
  fresh(ids: readonly string[]): { id: string; key: Buffer; wrapped: Buffer }[] {
    return ids.map((id) => {
      const key = Buffer.concat([nextIv(), nextIv(), nextIv().subarray(0, 8)]); // 32 random bytes from the pool
      return { id, key, wrapped: this.wrap(id, key) };
    });
  }

  accept(keys: readonly { id: string; key: Buffer }[]): void {
    for (const k of keys) this.remember(k.id, k.key);
  }

  forget(id: string, destroyed: boolean): void {
    this.cache.delete(id);
    if (destroyed) this.remember(id, null);
  }

  private wrap(id: string, key: Buffer): Buffer {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.wrapKey, iv);
    c.setAAD(Buffer.from(id, 'utf8'));
    return Buffer.concat([iv, c.update(key), c.final(), c.getAuthTag()]);
  }

  private unwrap(id: string, wrapped: Buffer): Buffer {
    try {
      const d = createDecipheriv('aes-256-gcm', this.wrapKey, wrapped.subarray(0, 12));
      d.setAAD(Buffer.from(id, 'utf8'));
      d.setAuthTag(wrapped.subarray(wrapped.length - 16));
      return Buffer.concat([d.update(wrapped.subarray(12, wrapped.length - 16)), d.final()]);
    } catch {
      throw new DataKeyUnreadable(id);
    }
  }
}

// IVs from a pool filled 4,096 at a time: a randomBytes call per seal cost as much as the cipher.
const IV_POOL = Buffer.alloc(12 * 4096);
let ivNext = IV_POOL.length;
function nextIv(): Buffer {
  if (ivNext === IV_POOL.length) {
    randomFillSync(IV_POOL);
    ivNext = 0;
  }
  ivNext += 12;
  return Buffer.from(IV_POOL.subarray(ivNext - 12, ivNext));
}

function seal(key: Buffer, k: string, aad: string, values: Record<string, unknown>): SealedPersonalData {
  const iv = nextIv();
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(`${aad}|${k}`, 'utf8'));
  const ct = Buffer.concat([iv, c.update(JSON.stringify(values), 'utf8'), c.final(), c.getAuthTag()]);
  return { k, f: Object.keys(values), c: ct.toString('base64url') };
}

/** The sealed values, or null when the key is destroyed or does not decrypt (tampered ciphertext). */
function open(key: Buffer, s: SealedPersonalData, aad: string): Record<string, unknown> | null {
  try {
    const b = Buffer.from(s.c, 'base64url');
    const d = createDecipheriv('aes-256-gcm', key, b.subarray(0, 12));
    d.setAAD(Buffer.from(`${aad}|${s.k}`, 'utf8'));
    d.setAuthTag(b.subarray(b.length - 16));
    return JSON.parse(Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]).toString('utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

function erasedValues(s: SealedPersonalData): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of s.f) out[f] = ERASED;
  return out;
}

/** Inside a user's sealed part: their network fields, sealed under the day's key. */
const NET_FIELD = '_net';

/** Sealed under `key`; with no key (destroyed) only the names of the fields are kept, no value. */
function sealOrDrop(
  key: Buffer | null | undefined,
  k: string,
  aad: string,
  values: Record<string, unknown>,
  names = Object.keys(values),
): SealedPersonalData {
  return key ? { ...seal(key, k, aad, values), f: names } : { k, f: names, c: '' };
}

interface Plan {
  keys: string[];
  day: string;
  user: string | null;
  /** Seal the user's network fields under the day's key first (`expireNetworkDataInLog`). */
  nestNet: boolean;
}

export interface PersonalDataOptions {
  /**
   * Also seal a known user's IP addresses and user agents under the key of their day, so the log's
   * copies expire with `privacy.networkDataDays` even while the user lives (config
   * `privacy.expireNetworkDataInLog`). Off by default: it costs a second AES operation per login
   * written and read. Without it they are erased with the user.
   */
  expireNetworkDataInLog?: boolean;
}

/** Keys an event needs to be opened that the ring does not know yet (empty: it opens synchronously). */
type Missing = string[];

export interface PersonalDataStats {
  sealed: number;
  opened: number;
}

/**
 * An EventStore that seals personal fields on append and opens them on read. `raw` is the store
 * beneath (what the hashes cover). Appends and reads of events without personal fields pass
 * through untouched.
 */
export class PersonalDataStore implements EventStore {
  readonly kind: string;
  readonly raw: EventStore;
  readonly dataKeys: DataKeyTable;
  private readonly ring: KeyRing;
  readonly stats: PersonalDataStats = { sealed: 0, opened: 0 };

  constructor(
    inner: EventStore & { dataKeys: DataKeyTable },
    wrapKey: Buffer,
    private readonly options: PersonalDataOptions = {},
  ) {
    this.raw = inner;
    this.kind = inner.kind;
    this.dataKeys = inner.dataKeys;
    this.ring = new KeyRing(inner.dataKeys, wrapKey);
  }

  get tree() {
    return this.raw.tree;
  }
  get faults() {
    return this.raw.faults;
  }
  get writeHealth() {
    return this.raw.writeHealth?.bind(this.raw);
  }
  get importEvents() {
    return this.raw.importEvents?.bind(this.raw);
  }

  /** Destroys a user's key: from now on, every personal field about them reads `[erased]`. */
  async destroyUserKey(userId: string): Promise<boolean> {
    const id = userKeyId(userId);
    const had = await this.dataKeys.destroy(id);
    this.ring.forget(id, true);
    await this.dataKeys.compact?.();
    return had;
  }

  /** Destroys the day keys of days before `beforeDay` (yyyy-mm-dd): retention of network data. */
  async destroyDayKeysBefore(beforeDay: string): Promise<string[]> {
    const ids = await this.dataKeys.liveBefore('d:', `d:${beforeDay}`);
    for (const id of ids) {
      await this.dataKeys.destroy(id);
      this.ring.forget(id, true);
    }
    if (ids.length) await this.dataKeys.compact?.();
    return ids;
  }

  // --- writing

  async append(streamId: string, events: NewEvent[], options?: AppendOptions): Promise<AppendResult> {
    const plans = events.map((e) => this.plan(e));
    if (!plans.some((p) => p)) return this.raw.append(streamId, events, options);
    const need = [...new Set(plans.flatMap((p) => (p ? p.keys : [])))];
    const result = await this.sealAndAppend(streamId, events, plans, need, options);
    // Callers get what they appended, in the envelope the store recorded.
    return {
      ...result,
      events: result.events.map((r, i) => (plans[i] ? { ...r, data: events[i].data, metadata: plainMetadata(r.metadata, events[i]) } : r)),
    };
  }

  /**
   * A store that writes data keys in its append's own transaction (`keysInAppend`: SQLite and
   * memory; PostgreSQL not yet: there a new key is committed just before its first event) gets the new keys with the events, so a new user costs no commit of its own and a
   * key never exists without the event that made it (nor an event without its key). Two writers
   * making the same user's first key at once: one commits, the other gets DataKeyConflict, loads
   * the winner's key and seals again.
   */
  private async sealAndAppend(
    streamId: string,
    events: NewEvent[],
    plans: (Plan | null)[],
    need: string[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    for (let attempt = 0; ; attempt++) {
      // Known keys are looked up synchronously: only a user seen for the first time costs a read.
      let missing = need.filter((id) => this.ring.peek(id) === undefined);
      if (missing.length) {
        await this.ring.load(missing);
        missing = missing.filter((id) => this.ring.peek(id) === undefined);
      }
      if (!this.raw.keysInAppend) {
        await this.ring.ensure(missing);
        return this.raw.append(
          streamId,
          events.map((e, i) => (plans[i] ? this.sealEvent(e, plans[i]!, (id) => this.ring.peek(id)) : e)),
          options,
        );
      }
      const fresh = this.ring.fresh(missing);
      const staged = new Map(fresh.map((k) => [k.id, k.key]));
      const keyOf = (id: string) => staged.get(id) ?? this.ring.peek(id);
      const sealed = events.map((e, i) => (plans[i] ? this.sealEvent(e, plans[i]!, keyOf) : e));
      try {
        const r = await this.raw.append(
          streamId,
          sealed,
          fresh.length ? { ...options, dataKeys: fresh.map(({ id, wrapped }) => ({ id, wrapped })) } : options,
        );
        this.ring.accept(fresh);
        return r;
      } catch (err) {
        if (!(err instanceof DataKeyConflict) || attempt >= 3) throw err;
      }
    }
  }

  private plan(e: NewEvent): Plan | null {
    const decl = personalFieldsOf(e.type);
    const data = e.data as Record<string, unknown> | null;
    const meta = e.metadata as Record<string, unknown> | undefined;
    // Loops, not spread arrays: this runs for every event appended.
    let metaNet = false;
    if (meta) for (const f of NETWORK_FIELDS) if (typeof meta[f] === 'string') metaNet = true;
    let hasData = false;
    if (decl && data) for (const f of decl.fields) if (data[f] != null) hasData = true;
    if (!hasData && !metaNet) return null;
    const day = dayKeyId(e.metadata?.recordedAt ?? new Date().toISOString());
    const subject = decl && data ? data[decl.subject] : null;
    const user = hasData && typeof subject === 'string' && subject ? userKeyId(subject) : null;
    const nestNet =
      !!user && !!this.options.expireNetworkDataInLog && [...NETWORK_FIELDS].some((f) => decl!.fields.has(f) && data![f] != null);
    const needDay = !user || metaNet || nestNet;
    return { keys: user ? (needDay ? [user, day] : [user]) : [day], day, user, nestNet };
  }

  private sealEvent(e: NewEvent, plan: Plan, keyOf: (id: string) => Buffer | null | undefined): NewEvent {
    const id = e.id ?? randomUUID();
    const decl = personalFieldsOf(e.type);
    const dayKey = keyOf(plan.day);
    let data = e.data as unknown;
    if (decl && data && typeof data === 'object') {
      const rest: Record<string, unknown> = { ...(data as Record<string, unknown>) };
      const values: Record<string, unknown> = {};
      const net: Record<string, unknown> = {};
      for (const f of decl.fields) {
        const v = rest[f];
        if (v === undefined || v === null) continue;
        delete rest[f];
        // A known user's network fields: sealed under the day's key first (retention), then with the rest.
        if (plan.nestNet && NETWORK_FIELDS.has(f)) net[f] = v;
        else values[f] = v;
      }
      if (Object.keys(net).length) values[NET_FIELD] = sealOrDrop(dayKey, plan.day, id, net);
      if (Object.keys(values).length) {
        const keyId = plan.user ?? plan.day;
        // A destroyed key (the user was erased, or a day past retention): nothing personal is written.
        // The names list the network fields too, so that they read `[erased]` with the rest once the key is gone.
        const names = [...Object.keys(values).filter((f) => f !== NET_FIELD), ...Object.keys(net)];
        rest[SEALED_FIELD] = sealOrDrop(keyOf(keyId), keyId, id, values, names);
        this.stats.sealed++;
      }
      data = rest;
    }
    let metadata = e.metadata;
    if (metadata) {
      const m: Record<string, unknown> = { ...metadata };
      const net: Record<string, unknown> = {};
      for (const f of NETWORK_FIELDS) {
        if (typeof m[f] !== 'string') continue;
        net[f] = m[f];
        delete m[f];
      }
      if (Object.keys(net).length) m[SEALED_FIELD] = sealOrDrop(dayKey, plan.day, id, net);
      metadata = m as NewEvent['metadata'];
    }
    return { ...e, id, data: data as NewEvent['data'], metadata };
  }

  // --- reading

  /** The values of a sealed part: opened, `[erased]` when its key is destroyed, or the key still to load. */
  private openPart(part: SealedPersonalData, eventId: string): Record<string, unknown> | string {
    if (!part.c) return erasedValues(part);
    const key = this.ring.peek(part.k);
    if (key === undefined) return part.k;
    return key ? (open(key, part, eventId) ?? erasedValues(part)) : erasedValues(part);
  }

  /** Opens an event whose keys are all in the ring; else lists the keys it still needs. */
  private openSync(e: RecordedEvent): RecordedEvent | Missing {
    const data = e.data as Record<string, unknown> | null;
    const sealed = data && typeof data === 'object' ? data[SEALED_FIELD] : undefined;
    const metaSealed = (e.metadata as Record<string, unknown>)[SEALED_FIELD];
    if (!isSealed(sealed) && !isSealed(metaSealed)) return e;
    const missing: string[] = [];
    let values: Record<string, unknown> | null = null;
    if (isSealed(sealed)) {
      const v = this.openPart(sealed, e.id);
      if (typeof v === 'string') missing.push(v);
      else {
        values = v;
        const net = values[NET_FIELD];
        if (isSealed(net)) {
          const n = this.openPart(net, e.id);
          if (typeof n === 'string') missing.push(n);
          else Object.assign(values, n);
        }
      }
    }
    let meta: Record<string, unknown> | null = null;
    if (isSealed(metaSealed)) {
      const n = this.openPart(metaSealed, e.id);
      if (typeof n === 'string') missing.push(n);
      else {
        meta = {};
        for (const k in e.metadata) if (k !== SEALED_FIELD) meta[k] = (e.metadata as Record<string, unknown>)[k];
        Object.assign(meta, n);
      }
    }
    if (missing.length) return missing;
    let out = e;
    if (values) {
      // Built key by key (no `delete`, which turns an object into a slow dictionary for every reader).
      const opened: Record<string, unknown> = {};
      for (const k in values) if (k !== NET_FIELD) opened[k] = values[k];
      for (const k in data) if (k !== SEALED_FIELD) opened[k] = data![k];
      out = { ...e, data: opened };
      this.stats.opened++;
    }
    return meta ? { ...out, metadata: meta as RecordedEvent['metadata'] } : out;
  }

  private async openOne(e: RecordedEvent): Promise<RecordedEvent> {
    for (let round = 0; round < 3; round++) {
      const r = this.openSync(e);
      if (!Array.isArray(r)) return r;
      await this.ring.load(r);
      // Keys that do not exist at all (a log copied without its key table) read as destroyed.
      for (const id of r) if (this.ring.peek(id) === undefined) this.ring.forget(id, true);
    }
    return this.openSync(e) as RecordedEvent;
  }

  private async openAll(events: RecordedEvent[]): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = new Array(events.length);
    const pending: number[] = [];
    const missing = new Set<string>();
    events.forEach((e, i) => {
      const r = this.openSync(e);
      if (Array.isArray(r)) {
        pending.push(i);
        for (const id of r) missing.add(id);
      } else out[i] = r;
    });
    if (pending.length) {
      await this.ring.load(missing);
      for (const i of pending) out[i] = await this.openOne(events[i]);
    }
    return out;
  }

  /** Opens events read from `raw` (an export that writes both forms). */
  open(events: RecordedEvent[]): Promise<RecordedEvent[]> {
    return this.openAll(events);
  }

  async readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    return this.openAll(await this.raw.readStream(streamId, options));
  }

  async readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    return this.openAll(await this.raw.readAll(options));
  }

  headPosition(): Promise<number> {
    return this.raw.headPosition();
  }

  /**
   * The inner subscription, opened in order: an event whose keys are known is passed on at once;
   * one that needs a key lookup holds back those behind it until its keys are loaded. A
   * `UserErased` seen here forgets (and, idempotently, destroys) the user's key, so every node
   * stops reading an erased user's data as soon as it sees the erasure.
   */
  subscribe(after?: number): Observable<RecordedEvent> {
    return new Observable<RecordedEvent>((sub) => {
      const queue: RecordedEvent[] = [];
      let draining = false;
      let innerDone = false;
      let failed = false;
      const forward = (e: RecordedEvent) => {
        if (e.type === 'UserErased') {
          const userId = (e.data as { userId?: unknown }).userId;
          if (typeof userId === 'string') {
            this.ring.forget(userKeyId(userId), true);
            // Compacted as an erasure does (PostgreSQL: VACUUM FULL), so the old row version of a
            // key this repair destroys leaves the table's files too.
            void this.dataKeys
              .destroy(userKeyId(userId))
              .then((destroyed) => (destroyed ? this.dataKeys.compact?.() : undefined))
              .catch(() => {});
          }
        }
        sub.next(e);
      };
      const drain = async () => {
        draining = true;
        try {
          while (queue.length && !sub.closed) {
            // Everything queued meanwhile in one lookup (a replay queues whole pages).
            const batch = queue.splice(0);
            const missing = new Set<string>();
            for (const e of batch) {
              const r = this.openSync(e);
              if (Array.isArray(r)) for (const id of r) missing.add(id);
            }
            await this.ring.load(missing);
            for (const e of batch) {
              if (sub.closed) return;
              const r = this.openSync(e);
              forward(Array.isArray(r) ? await this.openOne(e) : r);
            }
          }
        } catch (err) {
          failed = true;
          sub.error(err);
          return;
        }
        draining = false;
        if (innerDone && !sub.closed) sub.complete();
      };
      const s = this.raw.subscribe(after).subscribe({
        next: (e) => {
          if (failed) return;
          if (!draining && !queue.length) {
            const r = this.openSync(e);
            if (!Array.isArray(r)) return forward(r);
          }
          queue.push(e);
          if (!draining) void drain();
        },
        error: (err) => {
          failed = true;
          sub.error(err);
        },
        complete: () => {
          innerDone = true;
          if (!draining && !queue.length) sub.complete();
        },
      });
      return () => s.unsubscribe();
    });
  }

  close(): Promise<void> {
    return this.raw.close();
  }
}

function plainMetadata(recorded: RecordedEvent['metadata'], e: NewEvent): RecordedEvent['metadata'] {
  const out: Record<string, unknown> = { ...recorded };
  delete out[SEALED_FIELD];
  const m = e.metadata as Record<string, unknown> | undefined;
  if (m) for (const f of NETWORK_FIELDS) if (m[f] !== undefined) out[f] = m[f];
  return out as RecordedEvent['metadata'];
}

/** Wraps a store that keeps data keys; a store that cannot (EventStoreDB) is returned as it is. */
export function withPersonalData(store: EventStore, wrapKey: Buffer, options: PersonalDataOptions = {}): EventStore {
  if (store instanceof PersonalDataStore || store.raw) return store;
  if (!store.dataKeys) return store;
  return new PersonalDataStore(store as EventStore & { dataKeys: DataKeyTable }, wrapKey, options);
}

/**
 * Whether a stored event holds personal fields in clear: written before sealing existed (or by a
 * store that keeps no keys). Erasure cannot reach those without rewriting the log.
 */
export function holdsPlaintextPersonalData(e: RecordedEvent): boolean {
  const decl = personalFieldsOf(e.type);
  const data = e.data as Record<string, unknown> | null;
  if (!decl || !data || typeof data !== 'object') return false;
  for (const f of decl.fields) if (data[f] !== undefined && data[f] !== null && data[f] !== ERASED) return true;
  return false;
}

/**
 * What opening changed in an event, for an export line that must stay verifiable: the paths of the
 * fields shown in clear (or `[erased]`), and the sealed parts as stored. Putting `sealed` back in
 * place of the `opened` paths gives the stored event, whose hash is recomputable.
 */
export function openedParts(stored: RecordedEvent, opened: RecordedEvent): { opened: string[]; sealed: Record<string, unknown> } | null {
  if (stored === opened) return null;
  const paths: string[] = [];
  const sealed: Record<string, unknown> = {};
  for (const top of ['data', 'metadata'] as const) {
    const s = stored[top] as Record<string, unknown> | null;
    const o = opened[top] as Record<string, unknown> | null;
    if (!s || typeof s !== 'object' || !isSealed(s[SEALED_FIELD]) || !o) continue;
    sealed[`${top}.${SEALED_FIELD}`] = s[SEALED_FIELD];
    for (const f of Object.keys(o)) if (!(f in s)) paths.push(`${top}.${f}`);
  }
  return Object.keys(sealed).length ? { opened: paths, sealed } : null;
}
