import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEventStore } from '../../../adapters/event-stores/open.js';
import type { NewEvent } from '../../../core/index.js';

// Events as another process wrote them: this test's own process need not know their types.
const raw = (type: string, data: unknown) => [{ type, data } as unknown as NewEvent];
import { runCli } from './run-cli.js';

/**
 * The CLI knows the event types the server knows: the kernel's (SigningKeyGenerated) and those of
 * the configured plugins (hmac-handoff's HandoffIssued, the TOTP service's TotpCodeAccepted), so
 * `audit verify` and `replay` on a real log warn only about a type nobody defines.
 */
describe('CLI loads the configured plugins event catalogs', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-cli-catalogs-'));
    fs.writeFileSync(
      path.join(dir, 'broker.yaml'),
      `dataDir: ${dir}\nplugins:\n  - name: password-login\n  - name: admin\n  - name: hmac-handoff\n`,
    );
    env = { BROKER_CONFIG: path.join(dir, 'broker.yaml') };
    const store = await openEventStore({ kind: 'sqlite' }, dir);
    await store.append('signing-keys', raw('SigningKeyGenerated', { kid: 'k1', alg: 'ES256' }));
    await store.append('handoff-n1', raw('HandoffIssued', { siteId: 'forum', userId: 'u1', nonce: 'n1' }));
    await store.append('totp-u1', raw('TotpCodeAccepted', { userId: 'u1', step: 1 }));
    await store.append('misc-1', raw('MadeUpHappened', {}));
    await store.close();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('audit verify and replay flag only the type no module defines', { timeout: 120_000 }, async () => {
    const [verify, replay] = await Promise.all([runCli(['audit', 'verify'], env), runCli(['replay'], env)]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain('ok: 4 events in 4 streams verified, every hash chain intact (1 of unknown type or version)');
    expect(verify.stderr).toBe('warning: position 4: unknown event type MadeUpHappened (stream misc-1)\n');
    expect(replay.code).toBe(0);
    expect(replay.stderr).toContain('warning: 1 event(s) of unknown type or version skipped (first at position 4: MadeUpHappened v1)');
  });

  it('says which configured plugin it could not load, and still reads the log', { timeout: 60_000 }, async () => {
    const cfg = path.join(dir, 'missing-plugin.yaml');
    fs.writeFileSync(cfg, `dataDir: ${dir}\nplugins:\n  - name: hmac-handoff\n  - name: ./no-such-broker-plugin.js\n`);
    const r = await runCli(['audit', 'verify'], { BROKER_CONFIG: cfg });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: plugin \.\/no-such-broker-plugin\.js: .*its events will read as unknown/);
    expect(r.stderr).not.toMatch(/HandoffIssued|SigningKeyGenerated/);
    expect(r.stderr).toMatch(/TotpCodeAccepted/); // no plugin of this config loads the TOTP service
  });
});
