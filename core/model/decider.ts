import type { DomainEvent } from '../events/catalog.js';

/**
 * An aggregate as three pure functions over plain data (the Decider pattern):
 * `decide` says which events a command produces given the state (or throws a DomainError),
 * `evolve` folds one event into the state. No I/O, so tests are "given events, when command,
 * then events".
 */
export interface Decider<Command, State, Event extends DomainEvent = DomainEvent> {
  initialState(): State;
  evolve(state: State, event: Event): State;
  decide(command: Command, state: State): Event[];
}
