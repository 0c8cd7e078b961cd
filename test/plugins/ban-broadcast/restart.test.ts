import { afterEach, expect, it } from 'vitest';
import type { Broker } from '../../../adapters/kernel/boot.js';
import { TOKENS } from '../../../adapters/kernel/tokens.js';
import type { Reactor } from '../../../core/index.js';
import { startReceiver, until, secretFor, type Receiver } from './receivers.js';
import { bootWith, site, banSomeone } from './setup.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
const track = <T extends Broker | Receiver>(x: T): T => {
  cleanup.push(() => ('stop' in x ? x.stop() : x.close()) as Promise<void>);
  return x;
};

// The kernel stops a quarantined reactor and, once an operator retries it, starts the same object
// again (core/reactors/reactor-supervisor.ts): the broadcaster must send again after that.
it('the ban broadcaster started again after stop() (a quarantine released) sends the bans recorded since', async () => {
  const r = track(await startReceiver(secretFor(0)));
  const broker = track(await bootWith([site('site0', r.url, secretFor(0))]));
  await banSomeone(broker);
  await until(() => r.acked.length === 1, 5000, 'the first ban acknowledged');
  const broadcaster = broker.container.getAll<Reactor>(TOKENS.Reactor).find((x) => x.name === 'ban-broadcast')!;
  await broadcaster.stop();
  const { ban } = await banSomeone(broker); // recorded while it is stopped
  await broadcaster.start({ subscribe: (after) => broker.store.subscribe(after) });
  await until(() => r.acked.length === 2, 5000, 'the ban recorded while stopped acknowledged after the start');
  expect(r.received[1].headers['webhook-id']).toBe(ban.id);
});
