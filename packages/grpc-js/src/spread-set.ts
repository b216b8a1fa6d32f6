// A set of strings for one pass over a possibly large service. One Set of 10,000 entries re-allocates its
// table as a large object each time it grows past a few thousand, and on a fresh heap every such
// allocation is paid in page faults: on the 2-core machines of `pnpm bench` that is most of the cost of
// the set. The same entries over many small sets never need a large table.

const SMALL = 2048;

/** A set of strings that spreads large contents over small sets. */
export class SpreadSet {
  readonly #parts: Set<string>[];
  readonly #mask: number;

  /** `expected`: about how many strings will be added (it only chooses the spread). */
  constructor(expected: number) {
    let parts = 1;
    while (parts * SMALL < expected && parts < 1024) parts *= 2;
    this.#parts = Array.from({ length: parts }, () => new Set<string>());
    this.#mask = parts - 1;
  }

  /** Adds `value`; false when it was already there. */
  add(value: string): boolean {
    const part = this.#parts[this.#mask === 0 ? 0 : spread(value) & this.#mask]!;
    if (part.has(value)) return false;
    part.add(value);
    return true;
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
