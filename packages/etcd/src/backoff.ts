/**
 * A resolved exponential backoff with jitter: what the watcher waits between failed lists and watch
 * resumptions, and the registrar between failed grants and writes. Each package maps its own public
 * option names onto it and checks them with its own error class.
 */
export interface Backoff {
  /** Delay before the first retry, in ms. */
  readonly initialMs: number;
  /** Upper bound of a delay, in ms. */
  readonly maxMs: number;
  /** Growth factor per consecutive failure (at least 1). */
  readonly multiplier: number;
  /** Fraction of each delay that is randomised, in [0, 1]: the delay is drawn from `[d × (1 − jitter), d]`. */
  readonly jitter: number;
}

/**
 * The delay in whole ms before retry number `attempt` (0-based), with `random` in [0, 1] (from
 * `Clock.random`): 0 waits the full step, 1 the shortest. A `random` outside [0, 1] counts as 0.5, so a
 * bad source can neither push a delay past `maxMs` nor make it negative or NaN.
 */
export function backoffDelay(backoff: Backoff, attempt: number, random: number): number {
  const step = Math.min(backoff.maxMs, backoff.initialMs * backoff.multiplier ** Math.max(0, attempt));
  const r = random >= 0 && random <= 1 ? random : 0.5;
  return Math.round(step * (1 - backoff.jitter * r));
}
