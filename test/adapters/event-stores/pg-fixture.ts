/**
 * PostgreSQL for tests: 127.0.0.1:5432, database `test`, trust auth (CI). A file whose database is
 * unreachable skips with a message, unless BROKER_REQUIRE_EXTERNAL=1, then it fails.
 */
import pg from 'pg';
import { PostgresEventStore, type PostgresStoreOptions } from '../../../adapters/event-stores/postgres.js';

export const PG_URL = process.env.BROKER_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REQUIRE_EXTERNAL = process.env.BROKER_REQUIRE_EXTERNAL === '1';

/** Resolves to null when PostgreSQL answers, else the reason (and throws when it is required). */
export async function pgUnavailable(): Promise<string | null> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return null;
  } catch (err) {
    const why = `PostgreSQL at ${PG_URL} unreachable (${(err as Error).message})`;
    if (REQUIRE_EXTERNAL) throw new Error(`${why} and BROKER_REQUIRE_EXTERNAL=1`);
    console.warn(`SKIPPED: ${why}; set BROKER_REQUIRE_EXTERNAL=1 to fail instead`);
    return why;
  } finally {
    await c.end().catch(() => {});
  }
}

export const freshSchema = (): string => `broker_test_${Math.random().toString(36).slice(2, 10)}`;

export async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

export function openPg(schema: string, extra: Partial<PostgresStoreOptions> = {}): Promise<PostgresEventStore> {
  return PostgresEventStore.open({ connectionString: PG_URL, schema, poolMax: 10, ...extra });
}
