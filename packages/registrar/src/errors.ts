/** What went wrong, for callers that branch on it. */
export type RegistrarErrorCode =
  | "INVALID_INPUT"
  | "KEY_OUTSIDE_SERVICE"
  | "TXN_TOO_LARGE"
  | "LEASE_LOST"
  | "DEREGISTERED"
  | "ETCD_UNAVAILABLE"
  | "PERMISSION_DENIED"
  | "WATCH_FAILED";

/**
 * The one error type of `@etcd-naming/registrar`. Branch on `code`, never on the message; the
 * underlying etcd or codec error, when there is one, is in `cause`.
 */
export class RegistrarError extends Error {
  readonly code: RegistrarErrorCode;

  constructor(code: RegistrarErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RegistrarError";
    this.code = code;
  }
}

/**
 * etcd's RBAC refused a write: names the key and the permission the user's role lacks, since etcd's own
 * message ("etcdserver: permission denied") names neither.
 */
export function permissionDenied(
  action: string,
  prefix: string,
  cause: unknown,
  permission: "read" | "readwrite" = "readwrite",
): RegistrarError {
  return new RegistrarError(
    "PERMISSION_DENIED",
    `etcd permission denied: ${action} needs the ${permission} permission on the prefix ${prefix}`,
    { cause },
  );
}

/** Wraps anything thrown by the etcd client so callers always see a `RegistrarError`. */
export function toRegistrarError(error: unknown, code: RegistrarErrorCode, what: string): RegistrarError {
  if (error instanceof RegistrarError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new RegistrarError(code, `${what}: ${detail}`, { cause: error });
}
