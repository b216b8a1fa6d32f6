import { type Clock, backoffDelay as delay, MAX_TIMER_MS } from "@etcd-naming/etcd";
import { WatcherError } from "./errors.js";

/** Exponential backoff with jitter, used between failed lists and watch resumptions. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms (default 200). */
  initialDelayMs?: number;
  /** Upper bound of a delay, in ms (default 10,000; at most 2^31 − 1). */
  maxDelayMs?: number;
  /** Growth factor per consecutive failure (default 2). */
  multiplier?: number;
  /**
   * Fraction of each delay that is randomised, in [0, 1] (default 0.5): the delay is drawn from
   * `[d × (1 − jitter), d]`, so many watchers failing together do not retry in lockstep.
   */
  jitter?: number;
}

/** @internal */
export type ResolvedBackoff = Required<BackoffOptions>;

/** @internal */
export function resolveBackoff(options: BackoffOptions = {}): ResolvedBackoff {
  const resolved = {
    initialDelayMs: options.initialDelayMs ?? 200,
    maxDelayMs: options.maxDelayMs ?? 10_000,
    multiplier: options.multiplier ?? 2,
    jitter: options.jitter ?? 0.5,
  };
  const ok =
    Number.isFinite(resolved.initialDelayMs) &&
    resolved.initialDelayMs >= 0 &&
    Number.isFinite(resolved.maxDelayMs) &&
    resolved.maxDelayMs >= resolved.initialDelayMs &&
    // A longer delay would fire after 1 ms: a retry loop instead of a backoff.
    resolved.maxDelayMs <= MAX_TIMER_MS &&
    Number.isFinite(resolved.multiplier) &&
    resolved.multiplier >= 1 &&
    resolved.jitter >= 0 &&
    resolved.jitter <= 1;
  if (!ok) throw new WatcherError("INVALID_OPTIONS", `invalid backoff options: ${JSON.stringify(options)}`);
  return resolved;
}

/** @internal The delay before retry number `attempt` (0-based): the etcd layer's backoff. */
export function backoffDelay(backoff: ResolvedBackoff, attempt: number, clock: Clock): number {
  const { initialDelayMs: initialMs, maxDelayMs: maxMs, multiplier, jitter } = backoff;
  return delay({ initialMs, maxMs, multiplier, jitter }, attempt, clock.random());
}
