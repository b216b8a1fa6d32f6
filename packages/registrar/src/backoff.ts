/** Jittered exponential backoff used while etcd is unreachable or a lease has to be re-granted. */
export interface BackoffOptions {
  /** First delay, in ms. Default 100. */
  initialMs?: number;
  /** Upper bound of a delay, in ms. Default: a quarter of the TTL, so recovery stays within TTL/3. */
  maxMs?: number;
  /** Growth factor per attempt. Default 2. */
  multiplier?: number;
  /** Source of randomness in [0, 1). Default `Math.random`. */
  random?: () => number;
}

export interface ResolvedBackoff {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  random: () => number;
}

export function resolveBackoff(options: BackoffOptions | undefined, ttlSeconds: number): ResolvedBackoff {
  const maxMs = options?.maxMs ?? Math.max(250, (ttlSeconds * 1000) / 4);
  return {
    initialMs: Math.min(options?.initialMs ?? 100, maxMs),
    maxMs,
    multiplier: options?.multiplier ?? 2,
    random: options?.random ?? Math.random,
  };
}

/**
 * Delay before retry number `attempt` (0-based). "Equal jitter": half the exponential step is fixed,
 * half random, so many hosts that lost etcd together do not return in lockstep, yet no host waits
 * longer than `maxMs`.
 */
export function backoffDelay(attempt: number, backoff: ResolvedBackoff): number {
  const step = Math.min(backoff.maxMs, backoff.initialMs * backoff.multiplier ** Math.max(0, attempt));
  return step / 2 + backoff.random() * (step / 2);
}
