/**
 * Fault isolation across a cluster (issue 22, step 3): a reactor's quarantine is in the shared log
 * (PostgreSQL), so a second broker node started after it does not run the reactor into the same
 * event, reports it too, and one `broker projections retry` releases it on every node.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { brokerLoggerOptions } from '../../../adapters/http/logging.js';
import { runCli } from '../../../adapters/cli/cli.js';
import { TEST_ARGON2, logCollector, testConfig, waitUntil } from '../../helpers/broker.js';
import { client } from '../../helpers/cookie-jar.js';
import { createPasswordUser } from '../../helpers/users.js';
import { passwordStep } from '../../plugins/password-login/flows.js';
import { captureIo } from '../cli/capture-io.js';
import { PG_URL, dropSchema, freshSchema, pgUnavailable } from '../event-stores/pg-fixture.js';
import { faultyPlugin, newFault, type Fault } from './faulty-plugin.js';

const unavailable = await pgUnavailable();
const PW = 'correct horse battery staple';

interface Readyz {
  status: string;
  quarantined?: { component: string; kind: string; position: number }[];
}

describe.skipIf(unavailable !== null)('reactor quarantine shared by two broker nodes on PostgreSQL', () => {
  const schema = freshSchema();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fault-isolation-pg-'));
  const masterKey = 'fault-isolation-master-key-0123456789abcdef';
  afterAll(async () => {
    await dropSchema(schema);
    fs.rmSync(root, { recursive: true, force: true });
  });

  async function boot(node: string, fault: Fault): Promise<{ broker: Broker; url: string }> {
    const { sink } = logCollector();
    const dataDir = path.join(root, node);
    const config = testConfig({
      store: { kind: 'postgres', url: PG_URL, schema },
      dataDir,
      secrets: { masterKey },
      cluster: { nodeId: node },
      plugins: [{ name: 'password-login', config: { argon2: TEST_ARGON2 } }],
    } as never);
    const broker = await bootBroker(config, {
      plugins: [{ plugin: faultyPlugin(fault) }],
      logger: pino(brokerLoggerOptions('warn'), sink),
    });
    const listened = await broker.listen();
    return { broker, url: `http://127.0.0.1:${new URL(listened).port}` };
  }
  const readyz = async (url: string): Promise<Readyz> => (await (await fetch(`${url}/readyz`)).json()) as Readyz;

  it(
    'node B starts after node A quarantined the reactor: B does not run it into the event, both report it, one retry releases both',
    { timeout: 90_000 },
    async () => {
      const faultA = newFault();
      const faultB = newFault();
      const a = await boot('node-a', faultA);
      let b: { broker: Broker; url: string } | null = null;
      try {
        await createPasswordUser(a.broker, { email: 'alice@example.com', password: PW });
        await a.broker.users.register({ email: 'poison@example.com', name: null, via: 'test' }, { actor: 'test' });
        await waitUntil(
          async () => (await a.broker.store.readStream('reactor-faulty.greeter')).some((e) => e.type === 'ReactorQuarantined'),
          10_000,
          'quarantine in the log',
        );
        expect(faultA.reactorAttempts).toBe(1);

        b = await boot('node-b', faultB);
        const rb = await readyz(b.url);
        expect(rb.status).toBe('degraded');
        expect(rb.quarantined).toEqual(expect.arrayContaining([expect.objectContaining({ component: 'faulty.greeter', kind: 'reactor' })]));
        expect(faultB.reactorAttempts).toBe(0); // read from the shared log: never started into the poison event
        expect(faultB.greeted).toEqual([]);
        expect(await (await fetch(`${b.url}/metrics`)).text()).toContain(
          'broker_component_quarantined{component="faulty.greeter",kind="reactor"} 1',
        );
        expect((await readyz(a.url)).status).toBe('degraded');

        // Logins go on, on the node that never ran the reactor too.
        const c = client(b.url);
        await passwordStep(c, 'alice@example.com', PW);
        expect(c.jar.cookies.has('broker_session')).toBe(true);

        // The fix on both nodes, then one retry per component from the CLI against the shared log.
        faultA.broken = false;
        faultB.broken = false;
        const configFile = path.join(root, 'broker.yaml');
        fs.writeFileSync(
          configFile,
          [
            `dataDir: ${JSON.stringify(path.join(root, 'cli'))}`,
            `store: { kind: postgres, url: ${JSON.stringify(PG_URL)}, schema: ${schema} }`,
            `secrets: { masterKey: ${masterKey} }`,
            '',
          ].join('\n'),
        );
        for (const name of ['faulty.greeter', 'faulty.registrations']) {
          const io = captureIo({}, root);
          expect(await runCli(['projections', 'retry', name, '--config', configFile], io), io.errors()).toBe(0);
        }
        const bNode = b;
        await waitUntil(
          async () => (await readyz(a.url)).status === 'ready' && (await readyz(bNode.url)).status === 'ready',
          20_000,
          'both nodes ready',
        );
        expect(faultA.greeted).toContain('poison@example.com');
        expect(faultB.greeted).toContain('poison@example.com');
      } finally {
        await b?.broker.stop();
        await a.broker.stop();
      }
    },
  );
});
