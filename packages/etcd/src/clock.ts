/** An opaque timer handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

/**
 * The longest delay Node's timers take (2^31 − 1 ms, 24.8 days): a longer one fires after 1 ms, with a
 * TimeoutOverflowWarning. Every delay option is refused above it, or chained (see {@link withLongTimers}).
 */
export const MAX_TIMER_MS: number = 2 ** 31 - 1;

/**
 * Time as the packages see it: backoff, jitter, coalescing windows, keep-alive ticks and liveness
 * deadlines all go through this provider, so the logic can be driven by a manual clock in tests.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** A number in [0, 1), used for jitter and for shuffling members. */
  random(): number;
}

/** A {@link Clock} whose `random` may be left out (the system's is used then), as the registrar takes it. */
export type TimerClock = Omit<Clock, "random"> & Partial<Pick<Clock, "random">>;

// Zero delays run as immediates: Node clamps a 0 ms timeout to 1 ms, which would add a millisecond to
// every hand-off (a coalescing window of 0, a resolver's listener call) on the propagation path.
const immediates = new WeakSet<object>();

/**
 * The real clock: `Date.now`, the global timers (unref'd, so a watch or a lease never keeps a process
 * alive; a zero delay uses `setImmediate`, still never synchronous, and ref'd for the one turn it waits)
 * and `Math.random`. The only place in the packages that calls them.
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

/**
 * Resolves on the next turn of the real event loop, whatever clock drives the logic: the one escape
 * hatch from an injected clock (TanStack's `systemSetTimeoutZero`), for "let everything queued in this
 * turn join the batch", which a manual clock must not hold up.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => systemClock.setTimeout(resolve, 0));
}

/**
 * A gRPC deadline `ms` from now. Deadlines are wall-clock instants that etcd and gRPC measure
 * themselves, so they always come from the system clock, whatever clock drives the logic.
 */
export function deadlineIn(ms: number): Date {
  return new Date(systemClock.now() + ms);
}

/**
 * `clock` with timers of any length: a delay beyond {@link MAX_TIMER_MS} (24.8 days) runs as a chain of
 * shorter timers, so a lease with a TTL of months or years (etcd accepts up to 9,000,000,000 s) is kept
 * alive every TTL/3 as asked, instead of in a loop of timers that all fire at once. A negative or NaN
 * delay is 0. Handles are only valid with the returned clock; a clock without `random` gets the system's.
 */
export function withLongTimers(clock: TimerClock): Clock {
  return {
    now: () => clock.now(),
    setTimeout(callback, ms) {
      const handle: { current: TimerHandle } = { current: undefined };
      let left = Math.max(Number.isNaN(ms) ? 0 : ms, 0);
      const arm = (): void => {
        const step = Math.min(left, MAX_TIMER_MS);
        left -= step;
        handle.current = clock.setTimeout(() => (left > 0 ? arm() : callback()), step);
      };
      arm();
      return handle;
    },
    clearTimeout(timer) {
      if (typeof timer === "object" && timer !== null && "current" in timer)
        clock.clearTimeout(timer.current);
    },
    random: clock.random === undefined ? systemClock.random : () => (clock.random as () => number)(),
  };
}

/**
 * Resolves `undefined` if `promise` has not settled within `ms` of real time (a rejection also gives
 * `undefined`): for etcd3 calls that can hang, such as cancelling a watch on a broken stream.
 */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: TimerHandle;
  const timeout = new Promise<undefined>((resolve) => {
    timer = systemClock.setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise.catch(() => undefined), timeout]).finally(() =>
    systemClock.clearTimeout(timer),
  );
}
