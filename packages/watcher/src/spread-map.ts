// A table of a service's keys that stays fast to fill on a fresh heap. One Map of 10,000 entries
// re-allocates its table as a large object each time it grows past a few thousand, and on a fresh heap
// every such allocation is paid in page faults (on the 2-core machines of `pnpm bench`, most of the cost of
// filling it). The same entries over many small maps never need a large table. Iteration order is not
// insertion order.

const SMALL = 1024;
const MAX_PARTS = 1024;

/** A map from strings that spreads large contents over small maps as it grows. */
export class SpreadMap<V> {
  #parts: Map<string, V>[] = [new Map()];
  #mask = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Spreads the contents over enough small maps for about `expected` entries (it never shrinks). */
  reserve(expected: number): void {
    while (expected > this.#parts.length * SMALL && this.#parts.length < MAX_PARTS) this.#grow();
  }

  get(key: string): V | undefined {
    return this.#part(key).get(key);
  }

  has(key: string): boolean {
    return this.#part(key).has(key);
  }

  /** Sets `key`; true when it is a new key (one look-up where `has` then `set` would take two). */
  set(key: string, value: V): boolean {
    const part = this.#part(key);
    const before = part.size;
    part.set(key, value);
    if (part.size === before) return false;
    this.#size++;
    if (this.#size > this.#parts.length * SMALL && this.#parts.length < MAX_PARTS) this.#grow();
    return true;
  }

  delete(key: string): boolean {
    if (!this.#part(key).delete(key)) return false;
    this.#size--;
    return true;
  }

  *keys(): IterableIterator<string> {
    for (const part of this.#parts) yield* part.keys();
  }

  #grow(): void {
    const old = this.#parts;
    const parts = old.length * 2;
    this.#parts = Array.from({ length: parts }, () => new Map<string, V>());
    this.#mask = parts - 1;
    for (const part of old) for (const [key, value] of part) this.#part(key).set(key, value);
  }

  #part(key: string): Map<string, V> {
    return this.#parts[this.#mask === 0 ? 0 : spread(key) & this.#mask]!;
  }
}

/** FNV-1a over the UTF-16 code units: cheap, and every unit counts (keys differ anywhere). */
function spread(value: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h ^ (h >>> 16)) >>> 0;
}
