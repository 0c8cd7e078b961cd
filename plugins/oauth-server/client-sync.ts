import { CommandHandler, type Decider, type EventOf, type EventStore, type Reactor } from '../../plugin/index.js';
import { clientRecord, clientStream, type ClientRegistry } from './clients.js';

type ClientEvent = EventOf<'ClientRegistered'> | EventOf<'ClientUpdated'>;
type ClientSyncCommand = { type: 'sync'; clientId: string; name: string; record: Record<string, unknown> };
interface ClientRecordState {
  exists: boolean;
  known: Record<string, unknown>;
}

/**
 * A client's record in the log (stream `client-<id>`) as a Decider: registered with what the config
 * says, then updated with the fields that changed; nothing when nothing did.
 */
export const clientRecordDecider: Decider<ClientSyncCommand, ClientRecordState, ClientEvent> = {
  initialState: () => ({ exists: false, known: {} }),
  evolve: (s, e) => ({ exists: true, known: { ...s.known, ...e.data } }),
  decide: (c, s) => {
    if (!s.exists) return [{ type: 'ClientRegistered', data: { ...c.record, clientId: c.clientId, name: c.name } }];
    const changed = Object.fromEntries(Object.entries(c.record).filter(([k, v]) => JSON.stringify(s.known[k]) !== JSON.stringify(v)));
    return Object.keys(changed).length ? [{ type: 'ClientUpdated', data: { clientId: c.clientId, ...changed } }] : [];
  },
};

/**
 * Records the configured clients in the log (ClientRegistered, then ClientUpdated when the config
 * changes), secrets as hashes only, so the audit trail shows who could obtain tokens and when.
 * Runs once at start; several nodes racing settle on the stream revision (clientRecordDecider).
 */
export class ClientSync implements Reactor {
  readonly name = 'oauth-server.client-sync';
  constructor(
    private readonly store: EventStore,
    private readonly clients: ClientRegistry,
  ) {}

  async start(): Promise<void> {
    const commands = new CommandHandler(this.store);
    for (const c of this.clients.byId.values()) {
      await commands.handle(
        clientRecordDecider,
        clientStream(c.clientId),
        { type: 'sync', clientId: c.clientId, name: c.name, record: clientRecord(c) },
        { actor: 'system' },
      );
    }
  }

  stop(): void {}
}
