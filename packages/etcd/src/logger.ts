import { redactFields, redactSecrets } from "@etcd-naming/codec";

/**
 * Where the packages' diagnostics go; every method is optional. The watcher's `WatcherLogger` and the
 * registrar's `RegistrarLogger` (which has `warn` only) are both this shape.
 */
export interface Logger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
  error?(message: string, fields?: Record<string, unknown>): void;
}

/** A logger whose warnings and errors always have somewhere to go. */
export type ConsoleLogger = Logger & Required<Pick<Logger, "warn" | "error">>;

const LEVELS = ["debug", "info", "warn", "error"] as const;

/** Loggers made here, which redact already: {@link redactingLogger} hands them back as they are. */
const redacting = new WeakSet<Logger>();

/**
 * Warnings and errors to `console`, behind {@link redactSecrets} (messages quote etcd3's errors, and those
 * quote their target with any password), each line starting with `tag` when given.
 *
 * @example
 * const logger = consoleLogger("[etcd-naming/watcher]");
 */
export function consoleLogger(tag?: string): ConsoleLogger {
  const line = (message: string) => redactSecrets(tag === undefined ? message : `${tag} ${message}`);
  const args = (message: string, fields: Record<string, unknown> | undefined): unknown[] =>
    fields === undefined ? [line(message)] : [line(message), redactFields(fields)];
  const logger: ConsoleLogger = {
    warn: (message, fields) => console.warn(...args(message, fields)),
    error: (message, fields) => console.error(...args(message, fields)),
  };
  redacting.add(logger);
  return logger;
}

/**
 * `logger` with every message and field behind {@link redactSecrets}; the console (untagged) when
 * `logger` is undefined. A logger's own shape is kept: a `warn`-only logger stays `warn`-only. A logger
 * made by this function or by {@link consoleLogger} comes back as it is, so nothing is redacted twice
 * when one package hands its logger to another.
 */
export function redactingLogger<L extends Logger>(logger: L | undefined): L | ConsoleLogger {
  if (logger === undefined) return consoleLogger();
  if (redacting.has(logger)) return logger;
  const safe: Logger = {};
  for (const level of LEVELS) {
    if (logger[level] === undefined) continue;
    // Looked up at each call, not here: loggers such as pino swap their level methods when the level
    // changes, and a method saved now would keep writing at the old level.
    safe[level] = (message, fields) => {
      const write = logger[level];
      if (write === undefined) return;
      if (fields === undefined) write.call(logger, redactSecrets(message));
      else write.call(logger, redactSecrets(message), redactFields(fields));
    };
  }
  redacting.add(safe);
  return safe as L;
}
