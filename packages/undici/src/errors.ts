/** A request for a service that had no endpoint registered in etcd within the request's wait. */
export class NoEndpointsError extends Error {
  override readonly name = "NoEndpointsError";
  /** undici's errors carry a `code`; this one is the package's own. */
  readonly code = "ETCD_NAMING_NO_ENDPOINTS";

  constructor(
    /** The service the request named. */
    readonly service: string,
    message: string,
  ) {
    super(message);
  }
}

/** A bad option of {@link createEtcdDispatcher}. */
export class InvalidOptionsError extends Error {
  override readonly name = "InvalidOptionsError";
  readonly code = "ETCD_NAMING_INVALID_OPTIONS";
}
