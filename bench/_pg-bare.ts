// Bare `pg` baselines for bench/store-pg.ts: what any PostgreSQL event store pays at least.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Rate } from './_store-measure.js';

const rate = (count: number, ms: number): Rate => ({ count, ms, perSec: (count * 1000) / ms });

const DATA = JSON.stringify({
  userId: 'user-baseline',
  sessionId: randomUUID(),
  issuer: 'https://idp.example.com',
  subject: 'sub-1',
  amr: ['pwd'],
  ip: '203.0.113.7',
});
const META = JSON.stringify({
  recordedAt: new Date().toISOString(),
  actor: 'user:baseline',
  correlationId: randomUUID(),
  causationId: null,
});

/** `concurrency` clients each committing one-row transactions (INSERT; COMMIT): the durable-commit floor. */
export async function measureBarePgCommits(url: string, schema: string, total: number, concurrency: number): Promise<Rate> {
  const setup = new pg.Client({ connectionString: url });
  await setup.connect();
  await setup.query(`CREATE TABLE "${schema}".bare (position bigserial PRIMARY KEY, id text UNIQUE, data json, metadata json)`);
  await setup.end();
  const pool = new pg.Pool({ connectionString: url, max: concurrency });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const c = await pool.connect();
      try {
        while (next++ < total) {
          await c.query('BEGIN');
          await c.query(`INSERT INTO "${schema}".bare (id, data, metadata) VALUES ($1, $2, $3)`, [randomUUID(), DATA, META]);
          await c.query('COMMIT');
        }
      } finally {
        c.release();
      }
    }),
  );
  const ms = performance.now() - started;
  await pool.end();
  return rate(total, ms);
}

/** Pages through the events table, the same columns the store reads, and parses both JSON columns. */
export async function measureBarePgRead(url: string, schema: string, pageSize = 5000): Promise<Rate> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  let n = 0;
  let after = 0;
  const started = performance.now();
  for (;;) {
    const r = await c.query({
      text: `SELECT position, data::text AS d, metadata::text AS m, id, stream_id, revision, type, version, prev_hash, hash
        FROM "${schema}".events WHERE position > $1 ORDER BY position LIMIT $2`,
      values: [after, pageSize],
      rowMode: 'array',
    });
    for (const row of r.rows as [string, string, string][]) {
      JSON.parse(row[1]);
      JSON.parse(row[2]);
      after = Number(row[0]);
      n++;
    }
    if (r.rows.length < pageSize) break;
  }
  const ms = performance.now() - started;
  await c.end();
  return rate(n, ms);
}
