// A table of strings for a possibly large service. One Map of 10,000 entries re-allocates its table as a
// large object each time it grows past a few thousand, and on a fresh heap every such allocation is paid
// in page faults: on the 2-core machines of `pnpm bench` that is most of the cost of the table. The same
// entries over many small maps never need a large table.

const SMALL = 1024;

/** A map from strings that spreads large contents over small maps: {@link reserve} it for its size. */
export class SpreadMap<V> {
  #parts: Map<string, V>[] = [new Map()];
  #mask = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Spreads the contents over enough small maps for about `expected` entries (it never shrinks). */
  reserve(expected: number): void {
    let parts = this.#parts.length;
    while (parts * SMALL < expected && parts < 1024) parts *= 2;
    if (parts === this.#parts.length) return;
    const old = this.#parts;
    this.#parts = Array.from({ length: parts }, () => new Map<string, V>());
    this.#mask = parts - 1;
    for (const part of old) for (const [key, value] of part) this.#part(key).set(key, value);
  }

  get(key: string): V | undefined {
    return this.#part(key).get(key);
  }

  set(key: string, value: V): void {
    const part = this.#part(key);
    const before = part.size;
    part.set(key, value);
    this.#size += part.size - before;
  }

  /** Deletes every entry for which `keep` is false. */
  retain(keep: (value: V) => boolean): void {
    let size = 0;
    for (const part of this.#parts) {
      for (const [key, value] of part) if (!keep(value)) part.delete(key);
      size += part.size;
    }
    this.#size = size;
  }

  #part(key: string): Map<string, V> {
    return this.#parts[this.#mask === 0 ? 0 : spread(key) & this.#mask]!;
  }
}

/** FNV-1a over the UTF-16 code units: cheap, and every unit counts (addresses differ anywhere). */
function spread(value: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h ^ (h >>> 16)) >>> 0;
}
