import { ERASED } from '../events/personal-fields.js';
import type { RecordedEvent, KnownEvent } from '../events/envelope.js';
import type { ReadDatabase, ReadStatement } from '../ports/read-database.js';
import type { PersistedProjection } from './projection.js';
import { BoundedCache } from './bounded-cache.js';
import { filteredQuery, type UserFilter } from './users-filter.js';

export type { UserFilter } from './users-filter.js';

export interface UserView {
  userId: string;
  email: string | null;
  name: string | null;
  admin: boolean;
  disabled: boolean;
  banned: { reason: string; actor: string; at: string } | null;
  erased: boolean;
  hasPassword: boolean;
  hasTotp: boolean;
  roles: string[];
  tenant: string | null;
  identities: { issuer: string; subject: string }[];
  createdAt: string;
  lastLoginAt: string | null;
}

export interface UserSearch {
  /** Prefix of the email, of the name (any case), or of the user id; empty lists everyone. */
  q?: string;
  limit?: number;
  /** Keyset cursor: the `next` of the previous page. */
  after?: string | null;
  /** Offset paging (kept for old callers; costs O(offset)). */
  offset?: number;
  /** Only users in this state (the console's filters); each is an indexed column or table. */
  filter?: UserFilter;
}

export interface UserPage {
  /** Exact for the whole list; for a search, capped at `SEARCH_COUNT_CAP` (then `totalCapped`). */
  total: number;
  totalCapped: boolean;
  users: UserView[];
  /** Cursor of the next page, or null on the last one. */
  next: string | null;
}

export const SEARCH_COUNT_CAP = 1000;

/** The event types `apply` folds into an existing user's document (UserRegistered aside). */
const CHANGES_USER: ReadonlySet<string> = new Set([
  'UserProfileUpdated',
  'PasswordSet',
  'TotpEnrolled',
  'TotpRemoved',
  'AdminGranted',
  'AdminRevoked',
  'AccountDisabled',
  'AccountEnabled',
  'UserBanned',
  'UserUnbanned',
  'UserErased',
  'ExternalIdentityLinked',
  'ExternalIdentityUnlinked',
  'RolesAssigned',
  'LoginSucceeded',
]);

interface Row {
  user_id: string;
  seq: number;
  doc: string;
}

/**
 * Users by id, by email and by name, persisted. Each user is one row: the document (what the
 * pages show) plus the indexed columns the look-ups and searches use. `seq` is the registration
 * position: lists are newest first, paged by it (keyset), so a page costs the same at any depth.
 */
export class UsersView implements PersistedProjection {
  readonly name = 'users';
  readonly version = 3;
  readonly tables = ['users', 'users_meta', 'user_providers'];
  private readonly cache = new BoundedCache<string, UserView | null>(20_000);
  private st!: {
    put: ReadStatement;
    update: ReadStatement;
    setDoc: ReadStatement;
    byId: ReadStatement<Row>;
    byEmail: ReadStatement<Row>;
    count: ReadStatement<{ n: number }>;
    bump: ReadStatement;
    page: ReadStatement<Row>;
    pageAfter: ReadStatement<Row>;
    search: ReadStatement<Row>;
    searchAfter: ReadStatement<Row>;
    searchCount: ReadStatement<{ n: number }>;
    narrow: ReadStatement<Row>;
    narrowAfter: ReadStatement<Row>;
    narrowCount: ReadStatement<{ n: number }>;
    pageOffset: ReadStatement<Row>;
    searchOffset: ReadStatement<Row>;
    admins: ReadStatement<{ n: number }>;
    stats: ReadStatement<{ live: number; disabled: number; erased: number; identities: number }>;
    all: ReadStatement<Row>;
    delProvider: ReadStatement;
    addProvider: ReadStatement;
    providers: ReadStatement<{ provider: string }>;
  };
  private db!: ReadDatabase;
  /** Filtered list statements, by the shape of the filter (a handful of combinations at most). */
  private readonly filtered = new Map<string, ReadStatement<Row>>();

  open(db: ReadDatabase): void {
    db.exec(`CREATE TABLE IF NOT EXISTS users (
      user_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, email TEXT, name_lower TEXT, admin INTEGER NOT NULL,
      erased INTEGER NOT NULL, banned INTEGER NOT NULL DEFAULT 0, disabled INTEGER NOT NULL DEFAULT 0, doc TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS users_banned ON users (seq) WHERE erased = 0 AND banned = 1;
      CREATE INDEX IF NOT EXISTS users_disabled ON users (seq) WHERE erased = 0 AND disabled = 1;
      CREATE INDEX IF NOT EXISTS users_admin ON users (seq) WHERE erased = 0 AND admin = 1;
      CREATE TABLE IF NOT EXISTS user_providers (provider TEXT NOT NULL, seq INTEGER NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (provider, seq)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS users_seq ON users (seq) WHERE erased = 0;
      CREATE INDEX IF NOT EXISTS users_email ON users (email) WHERE erased = 0;
      CREATE INDEX IF NOT EXISTS users_name ON users (name_lower) WHERE erased = 0;
      CREATE TABLE IF NOT EXISTS users_meta (k TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
      INSERT OR IGNORE INTO users_meta VALUES ('live', 0);`);
    // A search is the union of three index ranges (email, name, id prefixes), newest first.
    const ranges = `SELECT rowid FROM users WHERE erased = 0 AND email >= @q AND email < @q || char(1114111)
      UNION SELECT rowid FROM users WHERE erased = 0 AND name_lower >= @q AND name_lower < @q || char(1114111)
      UNION SELECT rowid FROM users WHERE erased = 0 AND user_id >= @q AND user_id < @q || char(1114111)`;
    const match = `erased = 0 AND ((email >= @q AND email < @q || char(1114111)) OR (name_lower >= @q AND name_lower < @q || char(1114111)) OR (user_id >= @q AND user_id < @q || char(1114111)))`;
    this.st = {
      put: db.prepare(
        `INSERT OR REPLACE INTO users (user_id, seq, email, name_lower, admin, erased, banned, disabled, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      // Most events (a login) change only the document: `setDoc` then leaves every index alone,
      // where a REPLACE would delete and re-insert the row in all seven (a rebuild ran 3x slower).
      update: db.prepare(
        `UPDATE users SET email = ?, name_lower = ?, admin = ?, erased = ?, banned = ?, disabled = ?, doc = ? WHERE user_id = ?`,
      ),
      setDoc: db.prepare(`UPDATE users SET doc = ? WHERE user_id = ?`),
      byId: db.prepare(`SELECT user_id, seq, doc FROM users WHERE user_id = ?`),
      byEmail: db.prepare(`SELECT user_id, seq, doc FROM users WHERE email = ? AND erased = 0`),
      count: db.prepare(`SELECT n FROM users_meta WHERE k = 'live'`),
      bump: db.prepare(`UPDATE users_meta SET n = n + ? WHERE k = 'live'`),
      page: db.prepare(`SELECT user_id, seq, doc FROM users WHERE erased = 0 ORDER BY seq DESC LIMIT ?`),
      pageAfter: db.prepare(`SELECT user_id, seq, doc FROM users WHERE erased = 0 AND seq < ? ORDER BY seq DESC LIMIT ?`),
      pageOffset: db.prepare(`SELECT user_id, seq, doc FROM users WHERE erased = 0 ORDER BY seq DESC LIMIT ? OFFSET ?`),
      search: db.prepare(`SELECT user_id, seq, doc FROM users WHERE ${match} ORDER BY seq DESC LIMIT @limit`),
      searchAfter: db.prepare(`SELECT user_id, seq, doc FROM users WHERE ${match} AND seq < @after ORDER BY seq DESC LIMIT @limit`),
      searchOffset: db.prepare(`SELECT user_id, seq, doc FROM users WHERE ${match} ORDER BY seq DESC LIMIT @limit OFFSET @offset`),
      searchCount: db.prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM users WHERE ${match} LIMIT @limit)`),
      // A longer prefix matches few users: read the three index ranges and sort what they hold,
      // instead of walking every user newest first until enough match (392 ms at 500k users).
      narrow: db.prepare(`SELECT user_id, seq, doc FROM users WHERE rowid IN (${ranges}) ORDER BY seq DESC LIMIT @limit`),
      narrowAfter: db.prepare(
        `SELECT user_id, seq, doc FROM users WHERE rowid IN (${ranges}) AND seq < @after ORDER BY seq DESC LIMIT @limit`,
      ),
      narrowCount: db.prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM (${ranges}) LIMIT @limit)`),
      admins: db.prepare(`SELECT count(*) AS n FROM users WHERE admin = 1 AND erased = 0`),
      stats:
        db.prepare(`SELECT count(*) FILTER (WHERE erased = 0) AS live, count(*) FILTER (WHERE erased = 0 AND json_extract(doc, '$.disabled')) AS disabled,
        count(*) FILTER (WHERE erased = 1) AS erased, coalesce(sum(json_array_length(doc, '$.identities')), 0) AS identities FROM users`),
      all: db.prepare(`SELECT user_id, seq, doc FROM users WHERE erased = 0 ORDER BY seq`),
      delProvider: db.prepare(`DELETE FROM user_providers WHERE provider = ? AND seq = ?`),
      addProvider: db.prepare(`INSERT OR IGNORE INTO user_providers (provider, seq, user_id) VALUES (?, ?, ?)`),
      providers: db.prepare(`SELECT DISTINCT provider FROM user_providers ORDER BY provider LIMIT 100`),
    };
    this.db = db;
    this.filtered.clear();
    this.cache.clear();
  }

  forget(): void {
    this.cache.clear();
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    if (e.type === 'UserRegistered') {
      const d = e.data;
      this.put(raw.position, {
        userId: d.userId,
        email: clear(d.email),
        name: clear(d.name),
        admin: !!d.admin,
        disabled: false,
        banned: null,
        erased: false,
        hasPassword: false,
        hasTotp: false,
        roles: [],
        tenant: null,
        identities: [],
        createdAt: e.metadata.recordedAt,
        lastLoginAt: null,
      });
      this.st.bump.run(1);
      return;
    }
    // Most of the log (sessions, refreshes, failures) changes no user document: skip before reading.
    if (!CHANGES_USER.has(e.type)) return;
    const userId = (e.data as { userId?: string }).userId;
    if (!userId) return;
    const row = this.st.byId.get(userId);
    if (!row) return;
    const u = JSON.parse(row.doc) as UserView;
    const before = { ...u, identities: u.identities.slice() };
    switch (e.type) {
      case 'UserProfileUpdated':
        if (e.data.email !== undefined) u.email = clear(e.data.email);
        if (e.data.name !== undefined) u.name = clear(e.data.name);
        break;
      case 'PasswordSet':
        u.hasPassword = true;
        break;
      case 'TotpEnrolled':
        u.hasTotp = true;
        break;
      case 'TotpRemoved':
        u.hasTotp = false;
        break;
      case 'AdminGranted':
        u.admin = true;
        break;
      case 'AdminRevoked':
        u.admin = false;
        break;
      case 'AccountDisabled':
        u.disabled = true;
        break;
      case 'AccountEnabled':
        u.disabled = false;
        break;
      case 'UserBanned':
        u.banned = { reason: e.data.reason, actor: e.data.actor, at: e.metadata.recordedAt };
        break;
      case 'UserUnbanned':
        u.banned = null;
        break;
      case 'UserErased':
        if (!u.erased) this.st.bump.run(-1);
        Object.assign(u, { email: null, name: null, erased: true, hasPassword: false, hasTotp: false, identities: [], roles: [] });
        break;
      case 'ExternalIdentityLinked':
        u.identities.push({ issuer: e.data.issuer, subject: e.data.subject });
        break;
      case 'ExternalIdentityUnlinked':
        u.identities = u.identities.filter((i) => !(i.issuer === e.data.issuer && i.subject === e.data.subject));
        break;
      case 'RolesAssigned':
        u.roles = e.data.roles.slice();
        u.tenant = e.data.tenant ?? u.tenant;
        break;
      case 'LoginSucceeded':
        u.lastLoginAt = e.metadata.recordedAt;
        break;
      default:
        return;
    }
    this.put(row.seq, u, before);
  }

  private put(seq: number, u: UserView, before?: UserView): void {
    const nameLower = u.name ? u.name.toLowerCase() : null;
    const flags = [u.admin ? 1 : 0, u.erased ? 1 : 0, u.banned ? 1 : 0, u.disabled ? 1 : 0] as const;
    if (!before) this.st.put.run(u.userId, seq, u.email, nameLower, ...flags, JSON.stringify(u));
    else if (
      u.email === before.email &&
      u.name === before.name &&
      u.admin === before.admin &&
      u.erased === before.erased &&
      !u.banned === !before.banned &&
      u.disabled === before.disabled
    )
      this.st.setDoc.run(JSON.stringify(u), u.userId);
    else this.st.update.run(u.email, nameLower, ...flags, JSON.stringify(u), u.userId);
    // The provider index changes only with a password or an identity: a login rewrites nothing here.
    // Old rows go by their key (provider, seq): a delete by user id would scan the whole table.
    const providers = (v: UserView | undefined) =>
      v ? [...(v.hasPassword ? ['password'] : []), ...v.identities.map((i) => i.issuer)] : [];
    const was = providers(before);
    const is = providers(u);
    if (was.join('\n') !== is.join('\n')) {
      for (const p of was) this.st.delProvider.run(p, seq);
      for (const p of is) this.st.addProvider.run(p, seq, u.userId);
    }
    this.cache.delete(u.userId);
  }

  get(userId: string): UserView | undefined {
    let v = this.cache.get(userId);
    if (v === undefined) {
      const r = this.st.byId.get(userId);
      v = r ? (JSON.parse(r.doc) as UserView) : null;
      this.cache.set(userId, v);
    }
    return v ?? undefined;
  }

  findByEmail(email: string): UserView | undefined {
    const r = this.st.byEmail.get(email.trim().toLowerCase());
    return r ? this.get(r.user_id) : undefined;
  }

  /** Users that are not erased. */
  count(): number {
    return this.st.count.get()!.n;
  }

  /** Counts over every user (a full scan: for the CLI's summaries, not for requests). */
  stats(): { live: number; disabled: number; erased: number; identities: number } {
    return this.st.stats.get()!;
  }

  /** Every user that is not erased, oldest first, one row at a time (`broker users list`). */
  *each(): Generator<UserView> {
    for (const r of this.st.all.iterate()) yield JSON.parse(r.doc) as UserView;
  }

  hasAdmin(): boolean {
    return this.st.admins.get()!.n > 0;
  }

  /**
   * A page of users, newest first: everyone, or those whose email, name (any case) or id starts
   * with `q`. Keyset paging with `after` (each page costs the same at any depth).
   */
  list(opts: UserSearch = {}): UserPage {
    const limit = Math.max(1, Math.min(opts.limit ?? 50, 500));
    const q = (opts.q ?? '').trim().toLowerCase();
    const after = opts.after ? Number(opts.after) : null;
    const f = opts.filter;
    if (f && (f.banned !== undefined || f.disabled !== undefined || f.admin !== undefined || f.provider))
      return this.listFiltered(q, f, after, limit);
    const offset = opts.offset ?? 0;
    let rows: Row[];
    // One or two characters match a large share of users: walking newest first finds a page soon.
    // From three on, the matches are few: read them from the three prefix indexes.
    const narrow = q.length >= 3 && !offset;
    if (!q)
      rows =
        after !== null
          ? this.st.pageAfter.all(after, limit + 1)
          : offset
            ? this.st.pageOffset.all(limit + 1, offset)
            : this.st.page.all(limit + 1);
    else if (narrow)
      rows = after !== null ? this.st.narrowAfter.all({ q, limit: limit + 1, after }) : this.st.narrow.all({ q, limit: limit + 1 });
    else
      rows =
        after !== null
          ? this.st.searchAfter.all({ q, limit: limit + 1, after })
          : offset
            ? this.st.searchOffset.all({ q, limit: limit + 1, offset })
            : this.st.search.all({ q, limit: limit + 1 });
    const more = rows.length > limit;
    if (more) rows.pop();
    let total: number;
    let totalCapped = false;
    if (!q) total = this.count();
    else {
      total = (q.length >= 3 ? this.st.narrowCount : this.st.searchCount).get({ q, limit: SEARCH_COUNT_CAP + 1 })!.n;
      if (total > SEARCH_COUNT_CAP) {
        total = SEARCH_COUNT_CAP;
        totalCapped = true;
      }
    }
    return {
      total,
      totalCapped,
      users: rows.map((r) => JSON.parse(r.doc) as UserView),
      next: more ? String(rows[rows.length - 1].seq) : null,
    };
  }

  /** A keyset page with filters (the SQL is built in users-filter.ts, each shape prepared once). */
  private listFiltered(q: string, f: UserFilter, after: number | null, limit: number): UserPage {
    const query = filteredQuery(q, f);
    const prepared = (sql: string): ReadStatement<Row> => {
      let st = this.filtered.get(sql);
      if (!st) this.filtered.set(sql, (st = this.db.prepare<Row>(sql)));
      return st;
    };
    const rows = prepared(query.page).all({ ...query.params, after: after ?? Number.MAX_SAFE_INTEGER, limit: limit + 1 });
    const more = rows.length > limit;
    if (more) rows.pop();
    let total = (prepared(query.count).get({ ...query.params, limit: SEARCH_COUNT_CAP + 1 }) as unknown as { n: number }).n;
    const totalCapped = total > SEARCH_COUNT_CAP;
    if (totalCapped) total = SEARCH_COUNT_CAP;
    return {
      total,
      totalCapped,
      users: rows.map((r) => JSON.parse(r.doc) as UserView),
      next: more ? String(rows[rows.length - 1].seq) : null,
    };
  }

  /** The providers users have (`password` and each linked issuer), for the console's filter. */
  providers(): string[] {
    return this.st.providers.all().map((r) => r.provider);
  }

  /** Compatibility with the in-memory view's offset search. */
  search(q: string, limit = 50, offset = 0): { total: number; users: UserView[] } {
    const p = this.list({ q, limit, offset });
    return { total: p.total, users: p.users };
  }

  /** Whether the user may hold a session right now (exists, not banned, disabled or erased). */
  isActive(userId: string): boolean {
    const u = this.get(userId);
    return !!u && !u.banned && !u.disabled && !u.erased;
  }
}

/** A personal field whose key was destroyed (a rebuild after an erasure) is no value to index. */
const clear = (v: string | null | undefined): string | null => (v == null || v === ERASED ? null : v);
