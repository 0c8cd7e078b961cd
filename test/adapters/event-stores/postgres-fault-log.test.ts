/**
 * Faults are logged (issue 17, item 5): a broker on PostgreSQL whose connections are terminated
 * (pg_terminate_backend, as in a failover or a DBA's kill) says so at warn, names each kind of
 * fault (lost connection, LISTEN reconnect, retry), and counts them in /metrics.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { bootBroker } from '../../../adapters/kernel/boot.js';
import { brokerLoggerOptions } from '../../../adapters/http/logging.js';
import { logCollector, testConfig } from '../../helpers/broker.js';
import { PG_URL, dropSchema, freshSchema, pgUnavailable } from './pg-fixture.js';

const unavailable = await pgUnavailable();

describe.skipIf(unavailable !== null)('PostgreSQL faults in the broker logs and /metrics', () => {
  const schema = freshSchema();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-fault-log-'));
  afterAll(async () => {
    await dropSchema(schema);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('logs lost connections, LISTEN reconnects and retries at warn, and /metrics counts them', { timeout: 60_000 }, async () => {
    const { logs, sink } = logCollector();
    // The store is opened by the kernel from the config, as in production: the logger must reach it.
    const broker = await bootBroker(testConfig({ store: { kind: 'postgres', url: PG_URL, schema }, dataDir: dir }), {
      logger: pino(brokerLoggerOptions('warn'), sink),
    });
    const url = await broker.listen();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    const warned = (msg: string) => logs.filter((l) => l.msg === msg && l.level === 40);
    try {
      let writing = true;
      let n = 0;
      const writer = (async () => {
        while (writing) await broker.users.register({ email: `w${n++}@example.com` }, { actor: 'test' });
      })();
      // Terminate every backend of this store (pool and LISTEN) until each kind of fault was seen.
      for (let round = 0; round < 100; round++) {
        await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE $1`,
          [`%/${schema}`],
        );
        if (
          warned('postgres: retrying after a connection error').length &&
          warned('postgres: LISTEN connection re-established').length &&
          warned('postgres: connection lost').length
        )
          break;
        await new Promise((r) => setTimeout(r, 50)); // pacing of the fault injection, not a wait for a result
      }
      writing = false;
      await writer;

      expect(warned('postgres: connection lost')[0]).toMatchObject({ schema, err: expect.any(String) });
      expect(warned('postgres: LISTEN connection lost; reconnecting (subscriptions poll meanwhile)')[0]).toMatchObject({ schema });
      expect(warned('postgres: LISTEN connection re-established')[0]).toMatchObject({ schema });
      expect(warned('postgres: retrying after a connection error')[0]).toMatchObject({
        schema,
        op: expect.stringMatching(/^(append|read)$/),
        attempt: expect.any(Number),
      });

      const text = await (await fetch(`${url}/metrics`)).text();
      const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? -1);
      expect(value('broker_event_store_connections_lost_total')).toBeGreaterThan(0);
      expect(value('broker_event_store_listener_reconnects_total')).toBeGreaterThan(0);
      expect(value('broker_event_store_retries_total')).toBeGreaterThan(0);
      console.info(
        `after ${n} registrations: ${text
          .split('\n')
          .filter((l) => l.startsWith('broker_event_store_') && !l.startsWith('broker_event_store_head'))
          .join('; ')}`,
      );
    } finally {
      await admin.end();
      await broker.stop();
    }
  });
});
