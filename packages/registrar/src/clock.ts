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

/** Where warnings go (object metadata, skipped values, unexpected etcd errors). */
export interface RegistrarLogger {
  warn(message: string): void;
}

export const consoleLogger: RegistrarLogger = {
  warn: (message) => console.warn(message),
};
