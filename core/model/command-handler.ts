import type { DomainEvent } from '../events/catalog.js';
import type { RecordedEvent } from '../events/envelope.js';
import { upcast } from '../events/schema-versions.js';
import { WrongExpectedRevision, type EventStore } from '../ports/event-store.js';
import type { Decider } from './decider.js';

export interface CommandMeta {
  /** Who asked: `admin:<id>`, `user:<id>`, `cli:<name>`, `system`, `plugin:<name>`. */
  actor: string;
  correlationId?: string;
  causationId?: string | null;
  /** Extra metadata recorded with each event (ip, user agent, ...). Never secrets. */
  extra?: Record<string, unknown>;
}

export interface CommandResult {
  events: RecordedEvent[];
  /** Global position of the last event written (or the stream's current one when nothing was). */
  position: number;
  revision: number;
}

export function foldStream<S, E extends DomainEvent>(decider: Decider<unknown, S, E>, events: RecordedEvent[]): S {
  let state = decider.initialState();
  for (const raw of events) {
    const r = upcast(raw);
    if (r.status !== 'ok') continue; // reported by `audit verify` / the projection engine
    state = decider.evolve(state, { type: r.event.type, data: r.event.data } as E);
  }
  return state;
}

/**
 * The one generic command handler: load the stream, fold it, decide, append with the expected
 * revision; on a concurrency conflict load again and retry, a bounded number of times.
 */
export class CommandHandler {
  constructor(
    private readonly store: EventStore,
    private readonly maxRetries = 8,
  ) {}

  async handle<C, S, E extends DomainEvent>(
    decider: Decider<C, S, E>,
    streamId: string,
    command: C,
    meta: CommandMeta,
  ): Promise<CommandResult> {
    for (let attempt = 0; ; attempt++) {
      const history = await this.store.readStream(streamId);
      const state = foldStream(decider as Decider<unknown, S, E>, history);
      const decided = decider.decide(command, state);
      const last = history.length ? history[history.length - 1] : undefined;
      const revision = last ? last.revision : -1;
      if (decided.length === 0) {
        return { events: [], position: last ? last.position : 0, revision };
      }
      try {
        const res = await this.store.append(
          streamId,
          decided.map((e) => ({
            type: e.type,
            data: e.data,
            metadata: {
              ...(meta.extra ?? {}),
              actor: meta.actor,
              ...(meta.correlationId ? { correlationId: meta.correlationId } : {}),
              causationId: meta.causationId ?? null,
            },
          })),
          { expectedRevision: last ? last.revision : 'no_stream' },
        );
        return { events: res.events, position: res.position, revision: res.revision };
      } catch (err) {
        if (err instanceof WrongExpectedRevision && attempt < this.maxRetries) continue;
        throw err;
      }
    }
  }
}
