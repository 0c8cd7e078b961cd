import type { EventStore } from '../ports/event-store.js';
import { defineEvent } from '../events/schema-versions.js';

declare module '../events/catalog.js' {
  interface EventMap {
    /** Stream `reactor-<name>`: every event up to `position` has been acted on (or handed to durable work). */
    ReactorCheckpointed: { reactor: string; position: number };
  }
}
defineEvent('ReactorCheckpointed', 1);

/**
 * A reactor's durable checkpoint, kept in the log itself (stream `reactor-<name>`) so it works on
 * every store adapter and survives with the log. Write it from the lease holder, batched (the ban
 * broadcaster does); should several nodes write it, the highest wins.
 * Write it only after the reaction's own outcome is durable (at-least-once, never at-most-once).
 */
export class StreamCheckpoint {
  private last = 0;
  private revision = -1;

  constructor(
    private readonly store: EventStore,
    readonly reactor: string,
  ) {}

  get streamId(): string {
    return `reactor-${this.reactor}`;
  }

  async load(): Promise<number> {
    const events = await this.store.readStream(this.streamId, { fromRevision: this.revision + 1 });
    for (const e of events) {
      if (e.revision <= this.revision) continue;
      this.revision = e.revision;
      if (e.type === 'ReactorCheckpointed') this.last = Math.max(this.last, (e.data as { position: number }).position);
    }
    return this.last;
  }

  get position(): number {
    return this.last;
  }

  /** Whether a checkpoint was ever written (after `load`): false on a reactor's very first start. */
  get exists(): boolean {
    return this.revision >= 0;
  }

  async save(position: number): Promise<void> {
    if (position <= this.last) return;
    const res = await this.store.append(this.streamId, [
      { type: 'ReactorCheckpointed', data: { reactor: this.reactor, position }, metadata: { actor: 'system' } },
    ]);
    this.revision = Math.max(this.revision, res.revision);
    this.last = position;
  }
}
