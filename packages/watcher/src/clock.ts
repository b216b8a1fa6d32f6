/** An opaque timer handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

/**
 * The longest delay Node's timers take (2^31 − 1 ms, 24.8 days): a longer one fires after 1 ms. Every
 * delay option of the watcher (and of the resolver) is refused above it.
 */
export const MAX_TIMER_MS: number = 2 ** 31 - 1;

/**
 * Time as the watcher sees it: backoff, jitter, coalescing windows and liveness deadlines all go
 * through this provider, so the logic can be driven by a manual clock in tests.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** A number in [0, 1), used for jitter. */
  random(): number;
}

// Zero delays run as immediates: Node clamps a 0 ms timeout to 1 ms, which would add a millisecond to
// every hand-off (a coalescing window of 0, a resolver's listener call) on the propagation path.
const immediates = new WeakSet<object>();

/**
 * The real clock: `Date.now`, the global timers (unref'd, so a watcher never keeps a process alive; a zero
 * delay uses `setImmediate`, still never synchronous, and ref'd for the one turn it waits) and `Math.random`.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    if (ms <= 0) {
      // Left ref'd: an unref'd immediate does not keep libuv's poll phase from blocking, so it would wait
      // for the next unrelated wake-up (hundreds of ms on a quiet channel). It runs on the next turn anyway.
      const immediate = setImmediate(callback);
      immediates.add(immediate);
      return immediate;
    }
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => {
    if (typeof handle === "object" && handle !== null && immediates.has(handle)) {
      clearImmediate(handle as ReturnType<typeof setImmediate>);
    } else {
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    }
  },
  random: () => Math.random(),
};

/** A {@link Clock} that only moves when told to; for tests. */
export interface ManualClock extends Clock {
  /** Moves time forward, firing every timer due on the way, in order. */
  advance(ms: number): void;
  /** Fires timers until none is left or `limit` have fired (guards against timers that re-arm forever). */
  runAll(limit?: number): number;
  /** How many timers are pending. */
  pending(): number;
  /** The delays (from now) of the pending timers, soonest first. */
  pendingDelays(): number[];
}

/** Options of {@link createManualClock}. */
export interface ManualClockOptions {
  /** The initial time in ms (default 0). */
  now?: number;
  /** The jitter source (default: always 0.5, i.e. no skew). */
  random?: () => number;
}

/**
 * A manual clock for deterministic tests of watchers and sources: timers fire only inside `advance()`
 * or `runAll()`.
 *
 * @example
 * const clock = createManualClock();
 * const watcher = watchService(source, "svc", { clock });
 * clock.advance(5); // flush the coalescing window
 */
export function createManualClock(options: ManualClockOptions = {}): ManualClock {
  let now = options.now ?? 0;
  let seq = 0;
  const random = options.random ?? (() => 0.5);
  const timers = new Map<number, { at: number; seq: number; callback: () => void }>();

  const next = (): [number, { at: number; seq: number; callback: () => void }] | undefined => {
    let best: [number, { at: number; seq: number; callback: () => void }] | undefined;
    for (const entry of timers) {
      if (
        best === undefined ||
        entry[1].at < best[1].at ||
        (entry[1].at === best[1].at && entry[1].seq < best[1].seq)
      ) {
        best = entry;
      }
    }
    return best;
  };

  return {
    now: () => now,
    random,
    setTimeout(callback, ms) {
      const id = ++seq;
      timers.set(id, { at: now + Math.max(0, ms), seq: id, callback });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    advance(ms) {
      const target = now + ms;
      for (;;) {
        const due = next();
        if (due === undefined || due[1].at > target) break;
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].callback();
      }
      now = target;
    },
    runAll(limit = 1000) {
      let fired = 0;
      for (;;) {
        const due = next();
        if (due === undefined || fired >= limit) return fired;
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        fired++;
        due[1].callback();
      }
    },
    pending: () => timers.size,
    pendingDelays: () => [...timers.values()].map((t) => t.at - now).sort((a, b) => a - b),
  };
}
