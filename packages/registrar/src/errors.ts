import { redactError, redactSecrets, USERINFO_IN_HOST_HINT } from "@etcd-naming/codec";

/** What went wrong, for callers that branch on it. */
export type RegistrarErrorCode =
  | "INVALID_INPUT"
  | "KEY_OUTSIDE_SERVICE"
  /** More operations than one transaction may hold: ours (`maxTxnOps`) or etcd's (`--max-txn-ops`). */
  | "TXN_TOO_LARGE"
  /** etcd answered that the lease to attach does not exist (never granted, expired or revoked). */
  | "LEASE_NOT_FOUND"
  /** etcd refused the request as too large (`--max-request-bytes`, 1.5 MiB by default). */
  | "REQUEST_TOO_LARGE"
  /** etcd refused a transaction that names one key twice. */
  | "DUPLICATE_KEY"
  | "LEASE_LOST"
  | "DEREGISTERED"
  /** etcd did not answer (unreachable, timed out, no leader): worth retrying. */
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
    // Causes quote etcd3's target, which may carry a password: the message and the cause are redacted.
    const safe = redactSecrets(message);
    super(
      safe === message ? message : `${safe} (${USERINFO_IN_HOST_HINT})`,
      options === undefined ? undefined : { cause: redactError(options.cause) },
    );
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

/**
 * The refusals etcd answers a write with, each with its own code: retrying would only be refused again.
 * gRPC's own "received message larger than max" comes from etcd's server too (a request beyond
 * `--max-request-bytes` plus gRPC's overhead).
 */
const REFUSALS: readonly [RegExp, RegistrarErrorCode][] = [
  [/etcdserver: requested lease not found/, "LEASE_NOT_FOUND"],
  [/etcdserver: request is too large|received message larger than max/, "REQUEST_TOO_LARGE"],
  [/etcdserver: duplicate key given in txn request/, "DUPLICATE_KEY"],
  [/etcdserver: too many operations in txn request/, "TXN_TOO_LARGE"],
];

/**
 * The `RegistrarError` for an error etcd answered with (`what: etcd refused it: <etcd's reason>`), or
 * undefined when etcd did not answer or answered something else.
 */
export function etcdRefusal(error: unknown, what: string): RegistrarError | undefined {
  const message = error instanceof Error ? error.message : String(error);
  for (const [pattern, code] of REFUSALS) {
    const match = pattern.exec(message);
    if (match === null) continue;
    // Quote etcd's part: etcd3 wraps it ("Lease 5 NOT_FOUND: etcdserver: … is expired or revoked").
    const reason = message.slice(match.index).replace(/ is expired or revoked$/, "");
    return new RegistrarError(code, `${what}: etcd refused it: ${reason}`, { cause: error });
  }
  return undefined;
}
