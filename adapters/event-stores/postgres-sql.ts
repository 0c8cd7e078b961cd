import type { RecordedEvent } from '../../core/index.js';

/** The SQL the PostgreSQL store runs, built once per schema (names are checked before they get here). */
export function pgStatements(s: string) {
  // json columns come back as text and are parsed here: measured ~1.5x faster on replay than
  // letting pg's type parser do it (bench/store-pg.ts).
  const cols = 'position, id, stream_id, revision, type, version, data::text AS data, metadata::text AS metadata, prev_hash, hash';
  return {
    begin: `SELECT first_position, stream_revision, last_hash FROM "${s}".append_begin($1, $2)`,
    insertEvents: `INSERT INTO "${s}".events (position, tx, id, stream_id, revision, type, version, data, metadata, prev_hash, hash)
      SELECT u.position, pg_current_xact_id(), u.id, $1, u.revision, u.type, u.version, u.data::json, u.metadata::json, u.prev_hash, u.hash
      FROM unnest($2::bigint[], $3::text[], $4::int[], $5::text[], $6::int[], $7::text[], $8::text[], $9::text[], $10::text[])
        AS u(position, id, revision, type, version, data, metadata, prev_hash, hash)`,
    // Issued together with insertEvents in one statement (a data-modifying CTE), one round trip.
    createStream: `INSERT INTO "${s}".streams (stream_id, revision, last_hash, position) VALUES ($1, $11, $12, $13)`,
    updateStream: `UPDATE "${s}".streams SET revision = $11, last_hash = $12, position = $13 WHERE stream_id = $1`,
    beginMany: `SELECT first_position, stream_id, stream_revision, last_hash FROM "${s}".append_begin_many($1, $2)`,
    // Group commit: the events of several appends and their streams' new heads in one statement.
    insertMany: `WITH ev AS (
        INSERT INTO "${s}".events (position, tx, id, stream_id, revision, type, version, data, metadata, prev_hash, hash)
        SELECT u.position, pg_current_xact_id(), u.id, u.stream_id, u.revision, u.type, u.version, u.data::json, u.metadata::json, u.prev_hash, u.hash
        FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], $6::int[], $7::text[], $8::text[], $9::text[], $10::text[])
          AS u(position, id, stream_id, revision, type, version, data, metadata, prev_hash, hash)
      ), created AS (
        INSERT INTO "${s}".streams (stream_id, revision, last_hash, position)
        SELECT * FROM unnest($11::text[], $12::int[], $13::text[], $14::bigint[])
      )
      UPDATE "${s}".streams st SET revision = u.revision, last_hash = u.last_hash, position = u.position
        FROM unnest($15::text[], $16::int[], $17::text[], $18::bigint[]) AS u(stream_id, revision, last_hash, position)
        WHERE st.stream_id = u.stream_id`,
    // Bulk import: each column comes as one JSON array (data and metadata as arrays of JSON
    // texts), zipped back into rows by ROWS FROM. JSON.stringify is native and one call per
    // column; pg's array serialisation escaped element by element and was most of the client's
    // time. json_array_elements_text unescapes only the outer level, so a \u0000 inside an event
    // stays the escape it was (json, unlike text, may hold it).
    importMany: `WITH ev AS (
        INSERT INTO "${s}".events (position, tx, id, stream_id, revision, type, version, data, metadata, prev_hash, hash)
        SELECT u.position::bigint, pg_current_xact_id(), u.id, u.stream_id, u.revision::int, u.type, u.version::int, u.data::json, u.metadata::json, u.prev_hash, u.hash
        FROM ROWS FROM (json_array_elements_text($1::json), json_array_elements_text($2::json), json_array_elements_text($3::json),
          json_array_elements_text($4::json), json_array_elements_text($5::json), json_array_elements_text($6::json),
          json_array_elements_text($7::json), json_array_elements_text($8::json), json_array_elements_text($9::json),
          json_array_elements_text($10::json)) AS u(position, id, stream_id, revision, type, version, data, metadata, prev_hash, hash)
      ), created AS (
        INSERT INTO "${s}".streams (stream_id, revision, last_hash, position)
        SELECT u.stream_id, u.revision::int, u.last_hash, u.position::bigint
        FROM ROWS FROM (json_array_elements_text($11::json), json_array_elements_text($12::json), json_array_elements_text($13::json),
          json_array_elements_text($14::json)) AS u(stream_id, revision, last_hash, position)
      )
      UPDATE "${s}".streams st SET revision = u.revision::int, last_hash = u.last_hash, position = u.position::bigint
        FROM ROWS FROM (json_array_elements_text($15::json), json_array_elements_text($16::json), json_array_elements_text($17::json),
          json_array_elements_text($18::json)) AS u(stream_id, revision, last_hash, position)
        WHERE st.stream_id = u.stream_id`,
    eventsTable: `"${s}".events`,
    streamHeads: `SELECT stream_id, revision, last_hash FROM "${s}".streams WHERE stream_id IN (SELECT json_array_elements_text($1::json))`,
    streamHead: `SELECT revision, position FROM "${s}".streams WHERE stream_id = $1`,
    readStream: `SELECT ${cols} FROM "${s}".events WHERE stream_id = $1 AND revision >= $2 ORDER BY revision`,
    readStreamLimit: `SELECT ${cols} FROM "${s}".events WHERE stream_id = $1 AND revision >= $2 ORDER BY revision LIMIT $3`,
    // `visible` is false for a row whose transaction is not older than the oldest one still
    // running: an earlier position may still be committing, so the reader stops there.
    readAll: `SELECT ${cols}, tx < (SELECT pg_snapshot_xmin(pg_current_snapshot())) AS visible
      FROM "${s}".events WHERE position > $1 ORDER BY position LIMIT $2`,
    head: `SELECT coalesce(max(position), 0) AS head FROM "${s}".events`,
    byIds: `SELECT ${cols} FROM "${s}".events WHERE id = ANY($1::text[]) ORDER BY position`,
  };
}

export interface EventRow {
  position: string;
  id: string;
  stream_id: string;
  revision: number;
  type: string;
  version: number;
  data: string;
  metadata: string;
  prev_hash: string;
  hash: string;
}

export function rowToEvent(r: EventRow): RecordedEvent {
  return {
    id: r.id,
    streamId: r.stream_id,
    revision: r.revision,
    position: Number(r.position),
    type: r.type,
    version: r.version,
    data: JSON.parse(r.data) as unknown,
    metadata: JSON.parse(r.metadata) as RecordedEvent['metadata'],
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/** A readAll row in array mode: the columns of `cols` in order, then `visible`. */
export type ArrayRow = [string, string, string, number, string, number, string, string, string, string, boolean];

export function arrayRowToEvent(r: ArrayRow): RecordedEvent {
  return {
    id: r[1],
    streamId: r[2],
    revision: r[3],
    position: Number(r[0]),
    type: r[4],
    version: r[5],
    data: JSON.parse(r[6]) as unknown,
    metadata: JSON.parse(r[7]) as RecordedEvent['metadata'],
    prevHash: r[8],
    hash: r[9],
  };
}

/** Parameters of insertEvents + the stream row ($11..$13) for sealed events of one stream. */
export function insertParams(streamId: string, sealed: RecordedEvent[]): unknown[] {
  const last = sealed[sealed.length - 1];
  return [
    streamId,
    sealed.map((e) => e.position),
    sealed.map((e) => e.id),
    sealed.map((e) => e.revision),
    sealed.map((e) => e.type),
    sealed.map((e) => e.version),
    sealed.map((e) => JSON.stringify(e.data ?? null)),
    sealed.map((e) => JSON.stringify(e.metadata)),
    sealed.map((e) => e.prevHash),
    sealed.map((e) => e.hash),
    last.revision,
    last.hash,
    last.position,
  ];
}

/** The text of a JSON array: one parameter of importMany (see there). */
export const jsonColumn = (values: readonly (string | number)[]): string => JSON.stringify(values);
