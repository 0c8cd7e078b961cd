import { describe, it, expect, afterEach } from 'vitest';
import { adminTokenCommand } from '../../../adapters/cli/commands/admin-token.js';
import { UsageError } from '../../../adapters/cli/io.js';
import { startBroker, TEST_ARGON2, type TestBroker } from '../../helpers/broker.js';
import { captureIo } from './capture-io.js';

describe('broker admin-token', () => {
  let t: TestBroker | undefined;
  afterEach(async () => t?.stop());

  it('mints a token whose config entry (hash only) opens the admin API, and nothing else does', async () => {
    const io = captureIo({}, '/tmp');
    expect(await adminTokenCommand.run(['--name', 'ci', '--json'], io)).toBe(0);
    const { name, token, tokenHash } = JSON.parse(io.output()) as { name: string; token: string; tokenHash: string };
    expect(name).toBe('ci');
    expect(tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(tokenHash).not.toContain(token);
    t = await startBroker({
      plugins: [{ name: 'admin', config: { argon2: TEST_ARGON2, setup: { printToStdout: false } } }],
      config: { admin: { apiTokens: [{ name, tokenHash }] } },
    });
    const ok = await fetch(`${t.url}/admin/api/users`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    const wrong = await fetch(`${t.url}/admin/api/users`, { headers: { authorization: `Bearer ${token}x` } });
    expect(wrong.status).toBe(401);
    const byHash = await fetch(`${t.url}/admin/api/users`, { headers: { authorization: `Bearer ${tokenHash}` } });
    expect(byHash.status).toBe(401);
  });

  it('refuses a missing or odd name', async () => {
    await expect(adminTokenCommand.run([], captureIo({}, '/tmp'))).rejects.toBeInstanceOf(UsageError);
    await expect(adminTokenCommand.run(['--name', 'a b'], captureIo({}, '/tmp'))).rejects.toBeInstanceOf(UsageError);
  });
});
