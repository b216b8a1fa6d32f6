import type { Clock } from "./clock.js";

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
 * A manual clock for deterministic tests of watchers, sources and registrations: timers fire only inside
 * `advance()` or `runAll()`, in the order they are due (in the order they were set when due together).
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
