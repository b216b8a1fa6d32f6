import { backoffDelay as delayOf, MAX_TIMER_MS, systemClock } from "@etcd-naming/etcd";
import { RegistrarError } from "./errors.js";

/** Jittered exponential backoff used while etcd is unreachable or a lease has to be re-granted. */
export interface BackoffOptions {
  /** First delay, in ms. Default 100. */
  initialMs?: number;
  /** Upper bound of a delay, in ms. Default: a quarter of the TTL, so recovery stays within TTL/3. */
  maxMs?: number;
  /** Growth factor per attempt. Default 2. */
  multiplier?: number;
  /** Source of randomness in [0, 1). Default: the clock's (`Math.random` on the system clock). */
  random?: () => number;
}

export interface ResolvedBackoff {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  random: () => number;
}

/**
 * The longest default backoff: a quarter of the TTL, but a re-registration after an outage must not wait
 * minutes (or, at etcd's longest TTL, years) once etcd is back.
 */
export const MAX_DEFAULT_BACKOFF_MS = 30_000;

export function resolveBackoff(
  options: BackoffOptions | undefined,
  ttlSeconds: number,
  clockRandom: () => number = systemClock.random,
): ResolvedBackoff {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new RegistrarError("INVALID_INPUT", "backoff must be an object");
  }
  const maxMs = delay(
    "backoff.maxMs",
    options?.maxMs ?? Math.min(MAX_DEFAULT_BACKOFF_MS, Math.max(250, (ttlSeconds * 1000) / 4)),
  );
  const initialMs = delay("backoff.initialMs", options?.initialMs ?? 100);
  const multiplier = options?.multiplier ?? 2;
  if (typeof multiplier !== "number" || !Number.isFinite(multiplier) || multiplier < 1) {
    throw new RegistrarError(
      "INVALID_INPUT",
      `backoff.multiplier must be a finite number of at least 1, got ${String(multiplier)}`,
    );
  }
  const random = options?.random ?? clockRandom;
  if (typeof random !== "function")
    throw new RegistrarError("INVALID_INPUT", "backoff.random must be a function");
  return { initialMs: Math.min(initialMs, maxMs), maxMs, multiplier, random };
}

/** A delay in ms that a timer can wait: 0 to 2^31 − 1 (24.8 days). */
function delay(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new RegistrarError(
      "INVALID_INPUT",
      `${name} must be a number of ms from 0 to ${MAX_TIMER_MS} (24.8 days, the longest timer Node keeps), got ${String(value)}`,
    );
  }
  return value;
}

/**
 * Delay before retry number `attempt` (0-based): the etcd layer's backoff with a jitter of one half.
 * "Equal jitter": half the exponential step is fixed, half random, so many hosts that lost etcd together
 * do not return in lockstep, yet no host waits longer than `maxMs`.
 */
export function backoffDelay(attempt: number, backoff: ResolvedBackoff): number {
  // Here random() says how far up the range a delay lands (0 is the shortest); a user's value outside
  // [0, 1) lands in the middle.
  const r = backoff.random();
  const { initialMs, maxMs, multiplier } = backoff;
  return delayOf({ initialMs, maxMs, multiplier, jitter: 0.5 }, attempt, r >= 0 && r < 1 ? 1 - r : 0.5);
}
