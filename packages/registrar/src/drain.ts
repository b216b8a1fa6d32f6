import type { Clock, ClockTimer } from "./clock.js";
import { consoleLogger, MAX_TIMER_MS, systemClock } from "./clock.js";
import { RegistrarError } from "./errors.js";
import type { Registration } from "./registration.js";

/** Options of {@link drainOnSignals}. */
export interface DrainOptions {
  /** Signals that start the drain. Default `["SIGTERM", "SIGINT"]`. */
  signals?: NodeJS.Signals[];
  /**
   * How long to keep serving after the keys are gone, in ms (default 5000, at most 2^31 − 1): long
   * enough for every client's resolver to see the delete and stop picking this server.
   */
  grace?: number;
  /** Closes the server (and the etcd client) once the grace period is over. */
  close?: () => unknown;
  /** Called if deregistering fails; the drain goes on (the lease expires within its TTL anyway). */
  onError?: (error: unknown) => void;
  /**
   * How long to wait for etcd to take the pause (the first step) before deregistering instead, in ms
   * (default 5000, at most 2^31 − 1).
   */
  pauseTimeout?: number;
  /** Time source of the grace period and the pause timeout. */
  clock?: Clock;
}

/** A drain armed by {@link drainOnSignals}. */
export interface Drain extends Disposable {
  /** Resolves when the drain has finished (keys deleted, grace waited, `close` done). */
  readonly drained: Promise<void>;
  /** Starts the drain now, as if a signal had arrived. */
  drain(): Promise<void>;
  /** Removes the signal handlers without draining. */
  dispose(): void;
}

/**
 * On SIGTERM/SIGINT: pause first (the keys go, so Node and Go clients stop picking this server within
 * milliseconds, while the lease and keep-alive stay and `etcd-naming list` shows the endpoints paused),
 * keep serving in-flight and late requests for `grace` ms, then deregister (markers deleted, lease
 * revoked) and call `close`. A registration whose pause fails or takes longer than `pauseTimeout` is
 * deregistered at once instead, as before pausing existed. A second signal skips the rest of the grace
 * period; one more removes the handlers and raises the signal again, so a `close` that hangs cannot keep
 * the process from being stopped.
 */
export function drainOnSignals(
  registrations: Registration | readonly Registration[],
  options: DrainOptions = {},
): Drain {
  const list = Array.isArray(registrations) ? [...registrations] : [registrations as Registration];
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const grace = options.grace ?? 5000;
  if (typeof grace !== "number" || !Number.isFinite(grace) || grace < 0 || grace > MAX_TIMER_MS) {
    // Node fires a longer timer after 1 ms: the server would close at once instead of after the grace.
    throw new RegistrarError(
      "INVALID_INPUT",
      `grace must be a number of ms from 0 to ${MAX_TIMER_MS} (24.8 days), got ${String(grace)}`,
    );
  }
  const pauseTimeout = options.pauseTimeout ?? 5000;
  if (
    typeof pauseTimeout !== "number" ||
    !Number.isFinite(pauseTimeout) ||
    pauseTimeout < 0 ||
    pauseTimeout > MAX_TIMER_MS
  ) {
    throw new RegistrarError(
      "INVALID_INPUT",
      `pauseTimeout must be a number of ms from 0 to ${MAX_TIMER_MS}, got ${String(pauseTimeout)}`,
    );
  }
  const clock = options.clock ?? systemClock;
  let started: Promise<void> | undefined;
  let skipGrace: (() => void) | undefined;
  let skipRequested = false;
  let resolveDrained!: () => void;
  const drained = new Promise<void>((resolve) => {
    resolveDrained = resolve;
  });

  // A throwing error handler must not stop the drain (nor turn it into an unhandled rejection).
  const report = (error: unknown): void => {
    try {
      options.onError?.(error);
    } catch (thrown) {
      consoleLogger.warn?.(
        { err: thrown },
        `drain onError threw: ${String(thrown)} (reporting: ${String(error)})`,
      );
    }
  };

  const deregister = async (registrations: readonly Registration[]): Promise<void> => {
    const results = await Promise.allSettled(registrations.map((r) => r.deregister()));
    for (const result of results) {
      if (result.status === "rejected") report(result.reason);
    }
  };

  /** Pauses every registration; resolves with those whose pause failed or did not finish in time. */
  const pauseAll = async (): Promise<Registration[]> => {
    let timer: ClockTimer | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = clock.setTimeout(() => resolve("timeout"), pauseTimeout);
    });
    const outcomes = await Promise.all(
      list.map((r) =>
        Promise.race([
          Promise.resolve()
            .then(() => r.pause())
            .then(
              () => "paused" as const,
              (error: unknown) => {
                report(error);
                return "failed" as const;
              },
            ),
          timeout,
        ]),
      ),
    );
    if (timer !== undefined) clock.clearTimeout(timer);
    return list.filter((_, i) => outcomes[i] !== "paused");
  };

  const run = async (): Promise<void> => {
    const unpaused = await pauseAll();
    await deregister(unpaused);
    await new Promise<void>((resolve) => {
      if (skipRequested) {
        resolve();
        return;
      }
      const timer = clock.setTimeout(resolve, grace);
      skipGrace = () => {
        clock.clearTimeout(timer);
        resolve();
      };
    });
    await deregister(list.filter((r) => !unpaused.includes(r)));
    try {
      await options.close?.();
    } catch (error) {
      report(error);
    }
  };

  const drain = (): Promise<void> => {
    started ??= run().finally(() => {
      dispose();
      resolveDrained();
    });
    return started;
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (started === undefined) {
      void drain();
    } else if (!skipRequested) {
      skipRequested = true;
      skipGrace?.();
    } else {
      // The default action of the signal (usually exit) now that no handler is left.
      dispose();
      process.kill(process.pid, signal);
    }
  };

  const dispose = (): void => {
    for (const signal of signals) process.off(signal, onSignal);
  };

  for (const signal of signals) process.on(signal, onSignal);
  return { drained, drain, dispose, [Symbol.dispose]: dispose };
}
