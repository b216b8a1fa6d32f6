import { redactFields, redactSecrets } from "@etcd-naming/codec";

/**
 * The fields of one log line. The packages use these names: `component` (`"watcher"`, `"registrar"`,
 * `"grpc-js"`), `service`, `key` (printable, see `printableKey` of `@etcd-naming/codec`), `revision`,
 * `modRevision`, `member` (an etcd member's host), `lease` (hex, as etcdctl prints it) and `err` (an
 * `Error`, where pino's and bunyan's standard serializer looks for it).
 */
export type LogFields = Record<string, unknown>;

/**
 * Where the packages' diagnostics go: pino's and bunyan's shape, the fields first and the message
 * after, so `pino()`, a bunyan logger and `console` plug in as they are. Every method is optional. The
 * watcher's `WatcherLogger` and the registrar's `RegistrarLogger` are this type.
 *
 * @example
 * watchService(source, "greeter", { logger: pino() });
 */
export interface Logger {
  debug?(fields: LogFields, message: string): void;
  info?(fields: LogFields, message: string): void;
  warn?(fields: LogFields, message: string): void;
  error?(fields: LogFields, message: string): void;
}

/** A logger whose warnings and errors always have somewhere to go. */
export type ConsoleLogger = Logger & Required<Pick<Logger, "warn" | "error">>;

const LEVELS = ["debug", "info", "warn", "error"] as const;

/** Loggers made here, which redact already: {@link redactingLogger} hands them back as they are. */
const redacting = new WeakSet<Logger>();

/** Runs one write of a logger: a logger that throws must not break a watch, a resolution or a lease. */
function guarded(write: () => void): void {
  try {
    write();
  } catch {
    // Nothing to report to: the logger is where reports go.
  }
}

/**
 * Warnings and errors to `console`, behind {@link redactSecrets} (messages quote etcd3's errors, and those
 * quote their target with any password): one line starting with `[etcd-naming/<component>]`, then the
 * message, then the other fields (those not undefined) when there are any.
 *
 * @example
 * consoleLogger().warn({ component: "watcher", service: "svc" }, "stale");
 * // console.warn("[etcd-naming/watcher] stale", { service: "svc" })
 */
export function consoleLogger(): ConsoleLogger {
  const print = (write: (...data: unknown[]) => void) => (fields: LogFields, message: string) => {
    guarded(() => {
      const { component, ...safe } = redactFields(fields);
      const tag = typeof component === "string" ? `[etcd-naming/${component}]` : "[etcd-naming]";
      const line = `${tag} ${redactSecrets(message)}`;
      // A field left undefined (a member not known yet) is not worth printing.
      const rest = Object.entries(safe).filter(([, value]) => value !== undefined);
      if (rest.length === 0) write(line);
      else write(line, Object.fromEntries(rest));
    });
  };
  const logger: ConsoleLogger = {
    // Looked up at each call, so a console replaced later (or spied on) is the one written to.
    warn: print((...data) => console.warn(...data)),
    error: print((...data) => console.error(...data)),
  };
  redacting.add(logger);
  return logger;
}

/**
 * `logger` with every message and field behind {@link redactSecrets}, each line carrying `bound` before
 * its own fields (a line's own field wins over a bound one of the same name); the console when `logger`
 * is undefined. A logger that throws is ignored. A logger's own shape is kept: a `warn`-only logger stays
 * `warn`-only. A logger made by this function or by {@link consoleLogger} is not redacted twice when one
 * package hands its logger to another; with nothing to bind it comes back as it is.
 *
 * @example
 * const logger = redactingLogger(options.logger, { component: "registrar" });
 * logger.warn?.({ service, key }, "lease 694da20c8de24042 was lost; re-registering");
 */
export function redactingLogger(logger: Logger | undefined, bound?: LogFields): Logger {
  const target = logger ?? consoleLogger();
  const redacts = redacting.has(target);
  if (redacts && bound === undefined) return target;
  const safe: Logger = {};
  for (const level of LEVELS) {
    if (target[level] === undefined) continue;
    // Looked up at each call, not here: loggers such as pino swap their level methods when the level
    // changes, and a method saved now would keep writing at the old level.
    safe[level] = (fields, message) => {
      const write = target[level];
      if (write === undefined) return;
      const all = bound === undefined ? fields : { ...bound, ...fields };
      guarded(() => {
        if (redacts) write.call(target, all, message);
        else write.call(target, redactFields(all), redactSecrets(message));
      });
    };
  }
  redacting.add(safe);
  return safe;
}
