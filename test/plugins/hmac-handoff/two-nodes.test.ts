import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect, afterEach } from 'vitest';
import { bootBroker, type Broker } from '../../../adapters/kernel/boot.js';
import { SqliteEventStore } from '../../../adapters/event-stores/sqlite.js';
import plugin from '../../../plugins/hmac-handoff/index.js';
import { Browser } from './browser.js';
import { BASE, config, crmServer, postInbound, sites } from './setup.js';

describe('one-time URL across two broker nodes sharing one store', () => {
  const nodes: Broker[] = [];
  let dir = '';
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('redeems on one node and refuses the same URL on the other', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-nodes-'));
    const file = path.join(dir, 'broker.db');
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) {
      const cfg = config(sites());
      cfg.store = { kind: 'sqlite', path: file, synchronous: 'NORMAL' };
      // Same master key on both nodes (as in a real cluster): either node can open the other's token.
      const broker = await bootBroker(cfg, {
        store: await SqliteEventStore.open({ path: file, synchronous: 'NORMAL', pollMs: 50 }),
        plugins: [{ plugin, config: { servers: [crmServer] } }],
      });
      nodes.push(broker);
      urls.push(await broker.listen());
    }
    const handed = await postInbound(urls[0], { sub: 'ext-cluster', return_to: '/welcome' });
    expect(handed.status).toBe(201);
    const oneTime = String(handed.json.url);

    const onB = await new Browser({ [BASE]: urls[1] }).get(oneTime);
    expect(onB.status).toBe(303);
    expect(onB.location).toBe(`${urls[1]}/welcome`);
    const onA = await new Browser({ [BASE]: urls[0] }).get(oneTime);
    expect(onA.status).toBe(400);
    expect(await onA.text()).toContain('already used');
  });
});
