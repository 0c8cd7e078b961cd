import type { SqlValue } from '../ports/read-database.js';

/** The console's filters over users; each one is an indexed column or table of UsersView. */
export interface UserFilter {
  banned?: boolean;
  disabled?: boolean;
  admin?: boolean;
  /** `password` (has a password) or the issuer of a linked identity. */
  provider?: string;
}

/**
 * The SQL of a filtered, keyset-paged user list (newest first) and of its capped count. Booleans
 * become constants in the SQL (one statement per filter shape, a handful at most) so SQLite can
 * pick the matching partial index (`users_banned`, `users_disabled`, `users_admin`); the provider
 * walks `user_providers (provider, seq)`; the search is the same prefix ranges as an unfiltered one.
 * Values the user typed are always bound parameters. Callers add `@after` and `@limit`.
 */
export function filteredQuery(q: string, f: UserFilter): { page: string; count: string; params: Record<string, SqlValue> } {
  const where = ['u.erased = 0'];
  const params: Record<string, SqlValue> = {};
  if (f.banned !== undefined) where.push(`u.banned = ${f.banned ? 1 : 0}`);
  if (f.disabled !== undefined) where.push(`u.disabled = ${f.disabled ? 1 : 0}`);
  if (f.admin !== undefined) where.push(`u.admin = ${f.admin ? 1 : 0}`);
  if (q) {
    where.push(
      `((u.email >= @q AND u.email < @q || char(1114111)) OR (u.name_lower >= @q AND u.name_lower < @q || char(1114111)) OR (u.user_id >= @q AND u.user_id < @q || char(1114111)))`,
    );
    params.q = q;
  }
  const from = f.provider ? `user_providers p JOIN users u ON u.user_id = p.user_id` : `users u`;
  if (f.provider) {
    where.push(`p.provider = @provider`);
    params.provider = f.provider;
  }
  const seq = f.provider ? 'p.seq' : 'u.seq';
  const cond = where.join(' AND ');
  return {
    page: `SELECT u.user_id, u.seq, u.doc FROM ${from} WHERE ${cond} AND ${seq} < @after ORDER BY ${seq} DESC LIMIT @limit`,
    count: `SELECT count(*) AS n FROM (SELECT 1 FROM ${from} WHERE ${cond} LIMIT @limit)`,
    params,
  };
}
