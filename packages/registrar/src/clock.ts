import type { Logger, TimerClock, TimerHandle } from "@etcd-naming/etcd";
import { redactingLogger as redacting } from "@etcd-naming/etcd";

export { MAX_TIMER_MS, systemClock, withLongTimers } from "@etcd-naming/etcd";

/** An opaque handle returned by `Clock.setTimeout`. */
export type ClockTimer = TimerHandle;

/**
 * The source of time for keep-alives, loss detection and backoff: the etcd layer's `Clock`, whose
 * `random` may be left out (the system's is used then). Tests pass a manual clock so the logic runs
 * without sleeping; production code uses `systemClock` (unref'd timers: a registration alone never
 * keeps a process alive, the server it announces does).
 */
export type Clock = TimerClock;

/**
 * Where the registrar's diagnostics go (lost leases, object metadata, skipped values, unexpected etcd
 * errors): the etcd layer's `Logger`, pino's and bunyan's `(fields, message)` shape, every method
 * optional. `pino()`, a bunyan logger and `console` plug in as they are. Each line carries
 * `component: "registrar"` and, where they apply, `service`, `key` (printable), `lease` (hex, as etcdctl
 * prints it), `member` and `err`.
 */
export type RegistrarLogger = Logger;

/**
 * The logger a registration or an endpoint manager writes to: the caller's, or the console, behind
 * `redactSecrets`, since warnings quote etcd3's errors and those quote its target with any password;
 * every line with `component: "registrar"`.
 */
export function redactingLogger(logger: RegistrarLogger | undefined): RegistrarLogger {
  return redacting(logger, { component: "registrar" });
}

/** Warnings to `console.warn`, behind `redactSecrets`. */
export const consoleLogger: RegistrarLogger = redactingLogger(undefined);
