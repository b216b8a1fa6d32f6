/** The attribute that carries an endpoint's weight (`weight=3`), as the grpc-js resolver reads it. */
export const WEIGHT_ATTRIBUTE = "weight";
/** The largest weight; a larger one is invalid (and counts as 1), as in the grpc-js resolver. */
export const MAX_WEIGHT = 1_000_000;

/** A weight attribute's value, or null when it is not a whole number from 1 to {@link MAX_WEIGHT}. */
export function parseWeight(text: string): number | null {
  if (!/^[1-9][0-9]{0,6}$/.test(text)) return null;
  const weight = Number(text);
  return weight <= MAX_WEIGHT ? weight : null;
}

/**
 * Smooth weighted round robin (nginx's): over any window of `sum of weights` picks, each origin is picked
 * exactly its weight's times, spread out rather than in runs.
 */
export class WeightedPicker {
  private readonly current = new Map<string, number>();

  constructor(private readonly weights: ReadonlyMap<string, number>) {}

  /** The next origin, or undefined when there is none (or none passes `usable`). */
  pick(usable: (origin: string) => boolean = () => true): string | undefined {
    let total = 0;
    let best: string | undefined;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (const [origin, weight] of this.weights) {
      if (!usable(origin)) continue;
      const value = (this.current.get(origin) ?? 0) + weight;
      this.current.set(origin, value);
      total += weight;
      if (value > bestValue) {
        bestValue = value;
        best = origin;
      }
    }
    if (best !== undefined) this.current.set(best, bestValue - total);
    return best;
  }
}
