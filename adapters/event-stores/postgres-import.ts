import type pg from 'pg';
import { checkImportLink, type RecordedEvent } from '../../core/index.js';
import { isConnectionError } from './postgres-retry.js';
import { jsonColumn as col, type pgStatements } from './postgres-sql.js';

/**
 * Bulk import (EventStore.importEvents) in one transaction. Positions are reserved as appends
 * reserve them (append_begin_many), so readers never skip a position; appends wait while an
 * import's transaction runs (the table lock below). Every row goes in one multi-row INSERT (importMany),
 * with the streams' new heads in the same statement.
 */
export async function importEventsPg(
  pool: pg.Pool,
  sql: ReturnType<typeof pgStatements>,
  events: readonly RecordedEvent[],
): Promise<number> {
  if (events.length === 0) return Number((await pool.query<{ head: string }>(sql.head)).rows[0].head);
  const client = await pool.connect();
  let destroy = false;
  try {
    await client.query('BEGIN');
    // One lock for the whole import instead of one per stream (a batch can touch thousands, more
    // than PostgreSQL's shared lock table holds). It conflicts with every append's INSERT, so no
    // stream head changes under the import; readers are not blocked. It takes no transaction id,
    // so the reservation below still hands ids out in position order.
    // A crash of PostgreSQL may lose the last imports that reported success: a copy that resumes
    // checks the target's tail against the source and re-sends them, so the commit need not wait
    // for the WAL flush.
    await client.query('SET LOCAL synchronous_commit = off');
    await client.query(`LOCK TABLE ${sql.eventsTable} IN SHARE ROW EXCLUSIVE MODE`);
    let begun: pg.QueryResult<{ first_position: string }>;
    try {
      begun = await client.query(sql.beginMany, [[], events.length]);
    } catch (err) {
      destroy = true; // as in appendOnce: the short advisory lock must not outlive a failure inside it
      throw err;
    }
    const streams = [...new Set(events.map((e) => e.streamId))];
    const found = await client.query<{ stream_id: string; revision: number; last_hash: string }>(sql.streamHeads, [col(streams)]);
    const first = Number(begun.rows[0].first_position);
    const heads = new Map<string, { revision: number; hash: string; position: number; existed: boolean }>();
    for (const r of found.rows) heads.set(r.stream_id, { revision: r.revision, hash: r.last_hash, position: 0, existed: true });
    const positions: number[] = [];
    events.forEach((e, i) => {
      let head = heads.get(e.streamId);
      if (!head) heads.set(e.streamId, (head = { revision: -1, hash: '', position: 0, existed: false }));
      checkImportLink(e, head);
      head.revision = e.revision;
      head.hash = e.hash;
      head.position = first + i;
      positions.push(first + i);
    });
    const touched = [...heads].filter(([, h]) => h.position > 0);
    const created = touched.filter(([, h]) => !h.existed);
    const updated = touched.filter(([, h]) => h.existed);
    await client.query(sql.importMany, [
      col(positions),
      col(events.map((e) => e.id)),
      col(events.map((e) => e.streamId)),
      col(events.map((e) => e.revision)),
      col(events.map((e) => e.type)),
      col(events.map((e) => e.version)),
      col(events.map((e) => JSON.stringify(e.data ?? null))),
      col(events.map((e) => JSON.stringify(e.metadata))),
      col(events.map((e) => e.prevHash)),
      col(events.map((e) => e.hash)),
      col(created.map(([id]) => id)),
      col(created.map(([, h]) => h.revision)),
      col(created.map(([, h]) => h.hash)),
      col(created.map(([, h]) => h.position)),
      col(updated.map(([id]) => id)),
      col(updated.map(([, h]) => h.revision)),
      col(updated.map(([, h]) => h.hash)),
      col(updated.map(([, h]) => h.position)),
    ]);
    await client.query('COMMIT');
    return positions[positions.length - 1];
  } catch (err) {
    if (isConnectionError(err)) destroy = true;
    else await client.query('ROLLBACK').catch(() => (destroy = true));
    throw err;
  } finally {
    client.release(destroy || undefined);
  }
}
