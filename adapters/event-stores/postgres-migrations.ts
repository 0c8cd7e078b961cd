import type pg from 'pg';

/** Thrown for a schema name we refuse to interpolate into SQL. */
export class InvalidSchemaName extends Error {
  override readonly name = 'InvalidSchemaName';
  constructor(schema: string) {
    super(`invalid PostgreSQL schema name ${JSON.stringify(schema)} (expected [a-z_][a-z0-9_]{0,47})`);
  }
}

/** Schema names go into DDL and function bodies, so only plain lower-case identifiers are accepted. */
export function checkSchemaName(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,47}$/.test(schema)) throw new InvalidSchemaName(schema);
  return schema;
}

/** Advisory-lock class ids (the first int of the two-int form), so our locks never collide with an app's. */
export const LOCK_CLASS_POSITIONS = 0x0b40e0;
export const LOCK_CLASS_MIGRATIONS = 0x0b40e1;
export const LOCK_CLASS_STREAMS = 0x0b40e2;
export const LOCK_CLASS_TREE = 0x0b40e3;

interface Migration {
  version: number;
  name: string;
  sql: (s: string) => string;
}

/**
 * Versioned migrations. Append new ones at the end; never edit an applied one (a node running an
 * older build would disagree with the schema it finds).
 */
const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'events, streams, position reservation',
    sql: (s) => `
CREATE TABLE "${s}".events (
  position   bigserial PRIMARY KEY,
  -- Top-level transaction id of the append (pg_current_xact_id()): readers only trust rows whose
  -- transaction is older than their snapshot's xmin (see reserve_positions and PostgresEventStore).
  tx         xid8 NOT NULL,
  id         text NOT NULL,
  stream_id  text NOT NULL,
  revision   integer NOT NULL,
  type       text NOT NULL,
  version    integer NOT NULL,
  -- json (not jsonb): the text is kept as written, so \\u0000 and key order survive (the hash
  -- covers canonical JSON, but readers should get back exactly what was appended).
  data       json NOT NULL,
  metadata   json NOT NULL,
  prev_hash  text NOT NULL,
  hash       text NOT NULL,
  CONSTRAINT events_stream_revision UNIQUE (stream_id, revision),
  -- Unique ids make an append idempotent: a retry after a connection lost during COMMIT can
  -- never write the same events twice.
  CONSTRAINT events_id UNIQUE (id)
);
CREATE TABLE "${s}".streams (
  stream_id  text PRIMARY KEY,
  revision   integer NOT NULL,
  last_hash  text NOT NULL,
  position   bigint NOT NULL
);
-- One call at the start of every append transaction. Under a short advisory lock it assigns the
-- transaction its id and reserves n contiguous positions, so positions are handed out in the
-- same order as transaction ids. Readers then see rows only when tx < xmin of their snapshot:
-- an earlier position whose transaction is still committing holds back every later one, so a
-- reader's cursor never moves past a row that could still appear. The lock is released before
-- COMMIT: concurrent appends still commit (and fsync) in parallel. Then the stream row is locked
-- (FOR UPDATE) for the expected-revision check; a missing row returns revision -1.
CREATE FUNCTION "${s}".append_begin(p_stream text, n integer)
RETURNS TABLE (first_position bigint, stream_revision integer, last_hash text)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_first bigint;
BEGIN
  PERFORM pg_advisory_lock(${LOCK_CLASS_POSITIONS}, hashtext('${s}'));
  PERFORM pg_current_xact_id();
  v_first := nextval('"${s}".events_position_seq');
  IF n > 1 THEN
    PERFORM setval('"${s}".events_position_seq', v_first + n - 1);
  END IF;
  PERFORM pg_advisory_unlock(${LOCK_CLASS_POSITIONS}, hashtext('${s}'));
  first_position := v_first;
  SELECT st.revision, st.last_hash INTO stream_revision, last_hash
    FROM "${s}".streams st WHERE st.stream_id = p_stream FOR UPDATE;
  IF NOT FOUND THEN
    stream_revision := -1;
    last_hash := '';
  END IF;
  RETURN NEXT;
END
$fn$;
`,
  },
  {
    version: 2,
    name: 'group commit: reserve positions and lock several streams at once',
    // Same protocol as append_begin for a batch of appends (group commit): one reservation for
    // all their events, then every existing stream row locked in stream-id order (so two batches
    // never deadlock on each other's rows). The first row carries the reservation only.
    sql: (s) => `
CREATE FUNCTION "${s}".append_begin_many(p_streams text[], n integer)
RETURNS TABLE (first_position bigint, stream_id text, stream_revision integer, last_hash text)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_first bigint;
BEGIN
  PERFORM pg_advisory_lock(${LOCK_CLASS_POSITIONS}, hashtext('${s}'));
  PERFORM pg_current_xact_id();
  v_first := nextval('"${s}".events_position_seq');
  IF n > 1 THEN
    PERFORM setval('"${s}".events_position_seq', v_first + n - 1);
  END IF;
  PERFORM pg_advisory_unlock(${LOCK_CLASS_POSITIONS}, hashtext('${s}'));
  RETURN QUERY SELECT v_first, NULL::text, NULL::integer, NULL::text;
  RETURN QUERY SELECT NULL::bigint, st.stream_id, st.revision, st.last_hash
    FROM "${s}".streams st WHERE st.stream_id = ANY(p_streams) ORDER BY st.stream_id FOR UPDATE;
END
$fn$;
`,
  },
  {
    version: 3,
    name: 'lock the stream before reserving positions',
    // Versions 1 and 2 reserved positions first and locked the stream row after: of two nodes
    // appending to one stream, the one that reserved first could get the row second, so revision
    // n+1 took a lower position than revision n and `audit verify` saw a broken chain (issue 17).
    // Now the stream is locked first, then positions are reserved: within a stream, position
    // rises with revision. The stream lock is a transaction-level advisory lock on the stream id
    // (held to COMMIT), not a row lock: a row lock would give the transaction its id before the
    // reservation, and ids must be handed out in position order (see version 1). It also covers a
    // stream that does not exist yet, so two creators no longer race on the unique constraint.
    // A hash collision between two stream ids only makes their appends take turns.
    sql: (s) => `
CREATE OR REPLACE FUNCTION "${s}".append_begin(p_stream text, n integer)
RETURNS TABLE (first_position bigint, stream_revision integer, last_hash text)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_first bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(${LOCK_CLASS_STREAMS}, hashtext(p_stream));
  -- A new statement, so a new snapshot (READ COMMITTED): it sees the previous holder's commit.
  SELECT st.revision, st.last_hash INTO stream_revision, last_hash
    FROM "${s}".streams st WHERE st.stream_id = p_stream;
  IF NOT FOUND THEN
    stream_revision := -1;
    last_hash := '';
  END IF;
  PERFORM pg_advisory_lock(${LOCK_CLASS_POSITIONS}, hashtext('${s}'));
  PERFORM pg_current_xact_id();
  v_first := nextval('"${s}".events_position_seq');
  IF n > 1 THEN
    PERFORM setval('"${s}".events_position_seq', v_first + n - 1);
  END IF;
  PERFORM pg_advisory_unlock(${LOCK_CLASS_POSITIONS}, hashtext('${s}'));
  first_position := v_first;
  RETURN NEXT;
END
$fn$;
CREATE OR REPLACE FUNCTION "${s}".append_begin_many(p_streams text[], n integer)
RETURNS TABLE (first_position bigint, stream_id text, stream_revision integer, last_hash text)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_first bigint;
  v_key integer;
BEGIN
  -- In key order, one at a time, so two batches never wait on each other in a cycle.
  FOR v_key IN SELECT DISTINCT hashtext(x) FROM unnest(p_streams) AS x ORDER BY 1 LOOP
    PERFORM pg_advisory_xact_lock(${LOCK_CLASS_STREAMS}, v_key);
  END LOOP;
  PERFORM pg_advisory_lock(${LOCK_CLASS_POSITIONS}, hashtext('${s}'));
  PERFORM pg_current_xact_id();
  v_first := nextval('"${s}".events_position_seq');
  IF n > 1 THEN
    PERFORM setval('"${s}".events_position_seq', v_first + n - 1);
  END IF;
  PERFORM pg_advisory_unlock(${LOCK_CLASS_POSITIONS}, hashtext('${s}'));
  -- The rows in the order version 2 returned them: a node still running an older build reads
  -- the reservation first. The stream rows cannot change meanwhile: their locks are held.
  RETURN QUERY SELECT v_first, NULL::text, NULL::integer, NULL::text;
  RETURN QUERY SELECT NULL::bigint, st.stream_id, st.revision, st.last_hash
    FROM "${s}".streams st WHERE st.stream_id = ANY(p_streams);
END
$fn$;
`,
  },
  {
    version: 4,
    name: 'transparency log: Merkle tree, checkpoints, witness acknowledgements',
    // Leaf i is the i-th event in position order and records that position: positions may skip
    // (a rolled-back reservation) but leaf indexes never do. Complete subtrees above the leaves
    // are kept by (level, idx) so appends and proofs touch O(log n) rows (issue 18).
    sql: (s) => `
CREATE TABLE "${s}".tlog_leaves (idx bigint PRIMARY KEY, position bigint NOT NULL UNIQUE, hash bytea NOT NULL);
CREATE TABLE "${s}".tlog_nodes (level smallint NOT NULL, idx bigint NOT NULL, hash bytea NOT NULL, PRIMARY KEY (level, idx));
CREATE TABLE "${s}".tlog_checkpoints (size bigint PRIMARY KEY, root bytea NOT NULL, note text NOT NULL, issued_at timestamptz NOT NULL);
CREATE TABLE "${s}".tlog_witness_acks (size bigint NOT NULL, witness text NOT NULL, ok boolean NOT NULL, detail text NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (size, witness));
`,
  },
  {
    version: 5,
    name: 'data keys: personal fields of events are encrypted per user; erasure destroys the key',
    // Beside the log, never in it (adapters/data-keys/postgres.ts). A destroyed key keeps its row
    // as a tombstone with no key.
    sql: (s) => `
CREATE TABLE "${s}".data_keys (id text PRIMARY KEY, wrapped bytea, created_at timestamptz NOT NULL DEFAULT now(), destroyed_at timestamptz);
`,
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/**
 * Creates the schema and applies pending migrations, each in its own transaction, under an
 * advisory lock so several nodes starting at once migrate exactly once.
 */
export async function migrate(client: pg.ClientBase, schema: string, options: { upTo?: number } = {}): Promise<{ applied: number[] }> {
  const s = checkSchemaName(schema);
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS_MIGRATIONS, s]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${s}"`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS "${s}".schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await client.query<{ version: number }>(`SELECT version FROM "${s}".schema_migrations`)).rows.map((r) => r.version),
    );
    for (const m of MIGRATIONS) {
      // upTo: tests build a schema as an older build left it, then let the store upgrade it.
      if (done.has(m.version) || m.version > (options.upTo ?? Infinity)) continue;
      await client.query(m.sql(s));
      await client.query(`INSERT INTO "${s}".schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      applied.push(m.version);
    }
    const newest = Math.max(0, ...done, ...applied);
    if (newest > LATEST_SCHEMA_VERSION) {
      throw new Error(
        `schema "${s}" is at migration ${newest}, newer than this build knows (${LATEST_SCHEMA_VERSION}); upgrade the broker`,
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
  return { applied };
}
