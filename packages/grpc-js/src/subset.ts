// FNV-1a over UTF-16 code units, finished with murmur3's avalanche so that similar keys (`svc/10.0.0.1`,
// `svc/10.0.0.2`) get unrelated weights. Not cryptographic: it only has to spread keys evenly.
function hash32(text: string, basis: number): number {
  let h = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Picks `size` keys by rendezvous (highest-random-weight) hashing: every key gets a weight from
 * `hash(seed, key)` and the heaviest `size` keys win. A key's weight never depends on the other keys, so
 * adding or removing one key changes at most one member of the subset, and clients with different seeds
 * spread their subsets over the whole service.
 */
export class RendezvousSubset {
  readonly #basis: number;
  #weights = new Map<string, number>();

  constructor(seed: string) {
    this.#basis = hash32(seed, 0x811c9dc5);
  }

  /** The key's weight for this seed. */
  weight(key: string): number {
    return this.#weights.get(key) ?? hash32(key, this.#basis);
  }

  /** The chosen keys, heaviest first; all of them when there are no more than `size`. */
  select(keys: readonly string[], size: number): string[] {
    // Weights are cached between calls for the keys still present, so a burst of updates to a large
    // service hashes each key once.
    const weights = new Map<string, number>();
    for (const key of keys) weights.set(key, this.weight(key));
    this.#weights = weights;
    if (keys.length <= size) return [...keys];
    return [...keys]
      .sort((a, b) => weights.get(b)! - weights.get(a)! || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, size);
  }
}
