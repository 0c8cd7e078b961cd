/**
 * A bounded least-recently-used map for the read models' hot paths (the session check, user
 * look-ups). Persisted projections drop entries when an event changes them and never fill them
 * from `apply`, so a cached value is always what the rows say.
 */
export class BoundedCache<K, V> {
  private readonly map = new Map<K, V>();
  constructor(readonly capacity: number) {}

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      // Refresh recency only when the entry is not already the newest (a re-insert costs).
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    if (this.map.size >= this.capacity && !this.map.has(key)) {
      const oldest = this.map.keys().next().value as K;
      this.map.delete(oldest);
    }
    this.map.set(key, value);
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
