import { redactError, redactSecrets } from "@etcd-naming/codec";

/** What went wrong, for callers that branch on it. */
export type ResolverErrorCode =
  /** The scheme is already registered with another etcd client or other options. */
  | "ALREADY_REGISTERED"
  /** `registerEtcdResolver` was given an option it cannot use. */
  | "INVALID_OPTIONS"
  /** A channel target the resolver cannot route, e.g. `etcd://svc` or `?lb=random`. */
  | "INVALID_TARGET"
  /** The registration was closed; channels created afterwards cannot resolve. */
  | "CLOSED";

/**
 * Raised for registration misuse and for targets the resolver cannot route. grpc-js surfaces the target
 * errors from the channel (client) constructor, so a typo fails where the client is created.
 */
export class ResolverError extends Error {
  override readonly name = "ResolverError";
  readonly code: ResolverErrorCode;
  override readonly cause: unknown;

  constructor(code: ResolverErrorCode, message: string, options?: { cause?: unknown }) {
    super(redactSecrets(message), options === undefined ? undefined : { cause: redactError(options.cause) });
    this.code = code;
    this.cause = options?.cause;
  }
}
