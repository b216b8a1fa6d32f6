/** A latency (or size) distribution, in the unit of its samples. */
export interface Distribution {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of sorted samples: p99 of 100 samples is the 99th, not an interpolation. */
function rank(sorted: readonly number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

/** Summarises samples; an empty list is a harness bug, so it throws rather than report zeros. */
export function summarize(samples: readonly number[]): Distribution {
  if (samples.length === 0) throw new Error("no samples to summarise");
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    n: sorted.length,
    min: sorted[0]!,
    p50: rank(sorted, 50),
    p90: rank(sorted, 90),
    p99: rank(sorted, 99),
    max: sorted[sorted.length - 1]!,
    mean: sum / sorted.length,
  };
}

/** Rounds for reports: three decimals below 10, two below 100, one above. */
export function round(value: number): number {
  const digits = Math.abs(value) < 10 ? 3 : Math.abs(value) < 100 ? 2 : 1;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** The distribution with every figure rounded for the report. */
export function rounded(distribution: Distribution): Distribution {
  return {
    n: distribution.n,
    min: round(distribution.min),
    p50: round(distribution.p50),
    p90: round(distribution.p90),
    p99: round(distribution.p99),
    max: round(distribution.max),
    mean: round(distribution.mean),
  };
}
