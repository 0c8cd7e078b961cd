import { WrongExpectedRevision, type EventStore, type Reactor } from '../../plugin/index.js';
import { clientRecord, clientStream, type ClientRegistry } from './clients.js';

/**
 * Records the configured clients in the log (ClientRegistered, then ClientUpdated when the config
 * changes), secrets as hashes only, so the audit trail shows who could obtain tokens and when.
 * Runs once at start; several nodes racing settle on the stream revision.
 */
export class ClientSync implements Reactor {
  readonly name = 'oauth-server.client-sync';
  constructor(
    private readonly store: EventStore,
    private readonly clients: ClientRegistry,
  ) {}

  async start(): Promise<void> {
    for (const c of this.clients.byId.values()) {
      const want = clientRecord(c);
      const events = await this.store.readStream(clientStream(c.clientId));
      const known: Record<string, unknown> = {};
      for (const e of events) if (e.type === 'ClientRegistered' || e.type === 'ClientUpdated') Object.assign(known, e.data);
      const changed = Object.fromEntries(Object.entries(want).filter(([k, v]) => JSON.stringify(known[k]) !== JSON.stringify(v)));
      if (events.length && !Object.keys(changed).length) continue;
      try {
        await this.store.append(
          clientStream(c.clientId),
          [events.length ? { type: 'ClientUpdated', data: { clientId: c.clientId, ...changed } } : { type: 'ClientRegistered', data: { ...want, clientId: c.clientId, name: c.name } }],
          { expectedRevision: events.length ? events[events.length - 1].revision : 'no_stream' },
        );
      } catch (err) {
        if (!(err instanceof WrongExpectedRevision)) throw err;
      }
    }
  }

  stop(): void {}
}
