import type { DomainEvent } from '../events/catalog.js';
import { DomainError } from '../errors.js';
import type { Decider } from './decider.js';
import type { EventStore } from '../ports/event-store.js';
import { CommandHandler, type CommandMeta, type CommandResult } from './command-handler.js';

/**
 * A fact that may be recorded once per stream, ever: a code, ticket, nonce, assertion or request
 * id used up (`mfa-ticket-<hash>`, `saml-assertion-<hash>`, `handoff-<jti>`...). Run by the
 * CommandHandler, two nodes racing on one id both decide on an empty stream, one append wins at
 * `no_stream`, and the other is decided again on the stream as written: AlreadyUsed.
 */
export interface UseOnce<E extends DomainEvent = DomainEvent> {
  type: 'use';
  event: E;
}

export interface OnceState {
  used: boolean;
}

export class AlreadyUsed extends DomainError {
  constructor() {
    super('replayed', 'already used');
  }
}

const decider: Decider<UseOnce, OnceState, DomainEvent> = {
  initialState: () => ({ used: false }),
  evolve: () => ({ used: true }),
  decide: (c, s) => {
    if (s.used) throw new AlreadyUsed();
    return [c.event];
  },
};

/** The one-time-use Decider (typed for the caller's event). */
export const onceDecider = <E extends DomainEvent>(): Decider<UseOnce<E>, OnceState, E> =>
  decider as unknown as Decider<UseOnce<E>, OnceState, E>;

/**
 * Records `event` on `streamId` through the CommandHandler unless the stream already holds a use:
 * the result, or null when it was used already (here or on another node).
 */
export async function useOnce<E extends DomainEvent>(
  commands: CommandHandler | EventStore,
  streamId: string,
  event: E,
  meta: CommandMeta,
): Promise<CommandResult | null> {
  const handler = commands instanceof CommandHandler ? commands : new CommandHandler(commands);
  try {
    return await handler.handle(onceDecider<E>(), streamId, { type: 'use', event }, meta);
  } catch (err) {
    if (err instanceof AlreadyUsed) return null;
    throw err;
  }
}
