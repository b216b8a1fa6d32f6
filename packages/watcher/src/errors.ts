import { redactError, redactSecrets, USERINFO_IN_HOST_HINT } from "@etcd-naming/codec";

/** The reasons a watcher reports or throws; callers branch on these, never on message text. */
export type WatcherErrorCode =
  /** A list (initial or after compaction) failed: etcd unreachable, timed out, or refused the read. */
  | "SOURCE_UNAVAILABLE"
  /** The resume revision was compacted; the watcher re-lists and reconciles (informative). */
  | "COMPACTED"
  /** The watch stream broke, was cancelled by etcd, or its member stopped answering; it is being resumed. */
  | "WATCH_FAILED"
  /**
   * etcd refused to let this user read the service's prefix (RBAC): grant the user's role `read` on
   * `<service>/`. Retried with the usual backoff, so a permission granted later is picked up.
   */
  | "PERMISSION_DENIED"
  /** A registry value could not be decoded; the key is skipped (see `error.key`). */
  | "INVALID_VALUE"
  /** The service name is not a valid etcd-naming service. */
  | "INVALID_SERVICE"
  /** An option has a value outside its domain. */
  | "INVALID_OPTIONS"
  /** The watcher was closed before the operation could complete. */
  | "CLOSED";

/** Options of {@link WatcherError}. */
export interface WatcherErrorOptions {
  cause?: unknown;
  /** The etcd key the error is about, when there is one (exactly, as `ServiceEndpoint.key`). */
  key?: string;
}

/**
 * The one error type of `@etcd-naming/watcher`. Errors delivered on a watcher's `error` event are
 * non-fatal: the watcher keeps its last known set and heals itself.
 */
export class WatcherError extends Error {
  override readonly name: "WatcherError" = "WatcherError";
  readonly code: WatcherErrorCode;
  readonly key: string | undefined;

  constructor(code: WatcherErrorCode, message: string, options: WatcherErrorOptions = {}) {
    // Causes quote etcd3's target, which may carry a password: the message and the cause are redacted.
    super(safeMessage(message), "cause" in options ? { cause: redactError(options.cause) } : undefined);
    this.code = code;
    this.key = options.key;
  }
}

/** A message with its secrets redacted, and a hint when a cause quoted an etcd3 host's user info. */
function safeMessage(message: string): string {
  const safe = redactSecrets(message);
  return safe === message ? message : `${safe} (${USERINFO_IN_HOST_HINT})`;
}
