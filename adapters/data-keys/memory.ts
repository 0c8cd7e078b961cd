import { DataKeyConflict, type DataKeyTable } from '../../core/ports/data-keys.js';

/** Data keys of a memory store: gone with the process, like its log. */
export class MemoryDataKeys implements DataKeyTable {
  private readonly keys = new Map<string, Buffer | null>();

  /** As SqliteDataKeys.claimInTransaction: all or none, DataKeyConflict when an id holds another key. */
  claim(keys: readonly { id: string; wrapped: Buffer }[]): void {
    for (const k of keys) {
      const stored = this.keys.get(k.id);
      if (stored === undefined) continue;
      if (!stored || !stored.equals(k.wrapped)) throw new DataKeyConflict(k.id);
    }
    for (const k of keys) if (!this.keys.has(k.id)) this.keys.set(k.id, k.wrapped);
  }

  async get(ids: readonly string[]): Promise<Map<string, Buffer | null>> {
    const out = new Map<string, Buffer | null>();
    for (const id of ids) if (this.keys.has(id)) out.set(id, this.keys.get(id)!);
    return out;
  }

  async create(id: string, wrapped: Buffer): Promise<Buffer | null> {
    if (!this.keys.has(id)) this.keys.set(id, wrapped);
    return this.keys.get(id)!;
  }

  async destroy(id: string): Promise<boolean> {
    const had = this.keys.get(id);
    if (had) had.fill(0);
    this.keys.set(id, null);
    return !!had;
  }

  async liveBefore(prefix: string, before: string): Promise<string[]> {
    return [...this.keys].filter(([id, k]) => k && id.startsWith(prefix) && id < before).map(([id]) => id);
  }

  async entries(after: string, limit: number): Promise<{ id: string; wrapped: Buffer | null }[]> {
    return [...this.keys]
      .filter(([id]) => id > after)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .slice(0, limit)
      .map(([id, wrapped]) => ({ id, wrapped }));
  }

  async copyIn(id: string, wrapped: Buffer | null): Promise<void> {
    if (wrapped) await this.create(id, wrapped);
    else await this.destroy(id);
  }

  async counts(): Promise<{ live: number; destroyed: number }> {
    let live = 0;
    for (const k of this.keys.values()) if (k) live++;
    return { live, destroyed: this.keys.size - live };
  }
}
