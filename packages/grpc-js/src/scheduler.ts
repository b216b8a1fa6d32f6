/**
 * Earliest-deadline-first scheduling over weighted entries (what gRPC's weighted_round_robin uses): each
 * entry is due every 1/weight units of virtual time, and `next()` returns the entry due first, so over any
 * stretch of picks each entry's share is its weight over the sum of the weights, spread evenly rather than
 * in bursts. A pick costs O(log n), however many entries there are.
 *
 * Every entry starts at a random point of its first period, so that many clients building the same
 * scheduler do not all send their first calls to the same server. Ties go to the entry listed first.
 *
 * Deadlines are kept exact: entry i is next due at (offset_i + picks_i) / weight_i, with whole weights and
 * pick counts, and two deadlines are compared by cross-multiplying, so equal deadlines are equal (no
 * rounding decides a tie) and long runs lose no precision (see `rebase`).
 */
export class EdfScheduler<T> {
  /** A binary min-heap of entry indexes, ordered by deadline then index. */
  private readonly heap: number[];
  private readonly weights: Float64Array;
  /** Where in its first period each entry started, in [0, 1). */
  private readonly offsets: Float64Array;
  /** How many times each entry was picked (less what `rebase` took off). */
  private readonly picks: Float64Array;
  private readonly values: readonly T[];

  /**
   * @param entries at least one, each with a whole weight from 1.
   * @param random a number in [0, 1) (default `Math.random`).
   */
  constructor(entries: readonly { value: T; weight: number }[], random: () => number = Math.random) {
    if (entries.length === 0) throw new RangeError("a scheduler needs at least one entry");
    const count = entries.length;
    this.values = entries.map((entry) => entry.value);
    this.weights = new Float64Array(count);
    this.offsets = new Float64Array(count);
    this.picks = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const weight = entries[i]!.weight;
      if (!(Number.isSafeInteger(weight) && weight >= 1)) {
        throw new RangeError(`a weight must be a whole number from 1, got ${String(weight)}`);
      }
      this.weights[i] = weight;
      this.offsets[i] = random();
    }
    this.heap = Array.from({ length: count }, (_, i) => i);
    for (let i = (count >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  /** How many entries take turns. */
  get size(): number {
    return this.values.length;
  }

  /** The entry due first; it is then due again one period later. */
  next(): T {
    const top = this.heap[0]!;
    this.picks[top]! += 1;
    if (this.picks[top]! > REBASE_AT * this.weights[top]!) this.rebase();
    this.siftDown(0);
    return this.values[top]!;
  }

  /**
   * Takes the same whole amount of virtual time off every deadline (`weight` picks off each entry), which
   * keeps their order and keeps the products compared in `before` small enough to be exact.
   */
  private rebase(): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.values.length; i++) {
      earliest = Math.min(earliest, (this.offsets[i]! + this.picks[i]!) / this.weights[i]!);
    }
    const shift = Math.floor(earliest);
    // No entry goes below zero picks: offset + picks ≥ shift × weight and the offset is below 1.
    for (let i = 0; i < this.values.length; i++) this.picks[i]! -= shift * this.weights[i]!;
  }

  private before(a: number, b: number): boolean {
    const da = (this.offsets[a]! + this.picks[a]!) * this.weights[b]!;
    const db = (this.offsets[b]! + this.picks[b]!) * this.weights[a]!;
    return da < db || (da === db && a < b);
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    const count = heap.length;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= count) return;
      const right = left + 1;
      const child = right < count && this.before(heap[right]!, heap[left]!) ? right : left;
      if (!this.before(heap[child]!, heap[i]!)) return;
      const swap = heap[i]!;
      heap[i] = heap[child]!;
      heap[child] = swap;
      i = child;
    }
  }
}

/**
 * The virtual time after which deadlines are shifted back. Kept small, so that with weights up to 10^6
 * the products compared stay below 2^53 (picks below 1024 × 10^6, times a weight of at most 10^6).
 */
const REBASE_AT = 1024;
