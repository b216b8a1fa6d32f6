/** What went wrong while running an etcd fixture; callers branch on this, never on the message. */
export type EtcdFixtureErrorCode =
  | "ETCD_NOT_FOUND"
  | "INVALID_OPTIONS"
  | "NO_FREE_PORT"
  | "START_FAILED"
  | "START_TIMEOUT"
  | "STOP_TIMEOUT"
  | "NOT_RUNNING"
  | "CLOSED"
  | "STATUS_FAILED"
  | "METRICS_FAILED"
  | "NO_LEADER"
  | "NO_SHARED_ETCD"
  | "CERTIFICATES_FAILED"
  | "NETWORK_FAILED"
  | "NETWORK_UNSUPPORTED";

/**
 * The one error type thrown by `@etcd-naming/etcd-fixture`. Start failures carry the tail of
 * etcd's own output in the message, so a failing CI log shows why etcd would not come up.
 */
export class EtcdFixtureError extends Error {
  readonly code: EtcdFixtureErrorCode;

  constructor(code: EtcdFixtureErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EtcdFixtureError";
    this.code = code;
  }
}
