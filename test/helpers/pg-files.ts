import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { PG_URL } from '../adapters/event-stores/pg-fixture.js';

/**
 * The files of every relation of `schema` (tables, indexes, sequences, their TOAST tables and
 * TOAST indexes, all forks and segments), after a CHECKPOINT wrote the shared buffers out.
 */
export async function pgRelationFiles(schema: string): Promise<{ relation: string; file: string }[]> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query('CHECKPOINT');
    const dataDir = (await c.query<{ data_directory: string }>('SHOW data_directory')).rows[0].data_directory;
    const rels = await c.query<{ relname: string; path: string | null }>(
      `WITH own AS (
         SELECT c.oid, c.relname, c.reltoastrelid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1
       ), toast AS (
         SELECT t.oid, own.relname || ' (toast)' AS relname FROM own JOIN pg_class t ON t.oid = own.reltoastrelid WHERE own.reltoastrelid <> 0
       ), toast_idx AS (
         SELECT i.indexrelid AS oid, toast.relname || ' index' AS relname FROM toast JOIN pg_index i ON i.indrelid = toast.oid
       )
       SELECT relname, pg_relation_filepath(oid) AS path FROM (SELECT oid, relname FROM own UNION ALL SELECT oid, relname FROM toast UNION ALL SELECT oid, relname FROM toast_idx) r`,
      [schema],
    );
    const out: { relation: string; file: string }[] = [];
    for (const r of rels.rows) {
      if (!r.path) continue;
      const base = path.join(dataDir, r.path);
      const dir = path.dirname(base);
      const name = path.basename(base);
      for (const f of fs.readdirSync(dir))
        if (f === name || f.startsWith(`${name}.`) || f.startsWith(`${name}_`)) out.push({ relation: r.relname, file: path.join(dir, f) });
    }
    return out;
  } finally {
    await c.end();
  }
}
