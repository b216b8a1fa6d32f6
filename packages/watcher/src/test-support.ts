// Helpers shared by this package's tests; excluded from the build.
import type { Clock, TimerHandle } from "./clock.js";
import { systemClock } from "./clock.js";
import type { WatcherError } from "./errors.js";
import type { EndpointsUpdate, ServiceWatcher } from "./service-watcher.js";

/** Records everything a watcher emits. */
export function record(watcher: ServiceWatcher): {
  updates: EndpointsUpdate[];
  errors: WatcherError[];
  states: string[];
} {
  const updates: EndpointsUpdate[] = [];
  const errors: WatcherError[] = [];
  const states: string[] = [];
  watcher.on("update", (u) => updates.push(u));
  watcher.on("error", (e) => errors.push(e));
  watcher.on("stale", () => states.push("stale"));
  watcher.on("fresh", () => states.push("fresh"));
  return { updates, errors, states };
}

/** The system clock, counting its pending timers (to prove none is left behind). */
export function countingClock(): Clock & { pending(): number } {
  const live = new Set<TimerHandle>();
  return {
    now: systemClock.now,
    random: systemClock.random,
    setTimeout(callback, ms) {
      const handle: TimerHandle = systemClock.setTimeout(() => {
        live.delete(handle);
        callback();
      }, ms);
      live.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      live.delete(handle);
      systemClock.clearTimeout(handle);
    },
    pending: () => live.size,
  };
}
