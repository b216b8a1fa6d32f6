import { redactSecrets } from "@etcd-naming/codec";

/** An opaque handle returned by `Clock.setTimeout`. */
export type ClockTimer = unknown;

/**
 * The source of time for keep-alives, loss detection and backoff. Tests pass a manual clock so the
 * logic runs without sleeping; production code uses `systemClock`.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer): void;
}

/**
 * Wall-clock time with unref'd timers: a registration alone never keeps a process alive (the server
 * it announces does).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
};

/** The longest delay Node's timers take: a longer one fires after 1 ms, with a TimeoutOverflowWarning. */
export const MAX_TIMER_MS: number = 2 ** 31 - 1;

/**
 * `clock` with timers of any length: a delay beyond {@link MAX_TIMER_MS} (24.8 days) runs as a chain of
 * shorter timers, so a lease with a TTL of months or years (etcd accepts up to 9,000,000,000 s) is kept
 * alive every TTL/3 as asked, instead of in a loop of timers that all fire at once. A negative or NaN
 * delay is 0. Handles are only valid with the returned clock.
 */
export function withLongTimers(clock: Clock): Clock {
  return {
    now: () => clock.now(),
    setTimeout(callback, ms) {
      const handle: { current: ClockTimer } = { current: undefined };
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
  };
}

/** Where warnings go (object metadata, skipped values, unexpected etcd errors). */
export interface RegistrarLogger {
  warn(message: string): void;
}

export const consoleLogger: RegistrarLogger = {
  warn: (message) => console.warn(redactSecrets(message)),
};

/**
 * The logger a registration or an endpoint manager writes to: the caller's, or the console, behind
 * {@link redactSecrets}, since warnings quote etcd3's errors and those quote its target with any password.
 */
export function redactingLogger(logger: RegistrarLogger | undefined): RegistrarLogger {
  if (logger === undefined) return consoleLogger;
  return { warn: (message) => logger.warn(redactSecrets(message)) };
}
