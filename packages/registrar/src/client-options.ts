import type { IOptions } from "etcd3";

type HostPolicy = ReturnType<NonNullable<NonNullable<IOptions["faultHandling"]>["host"]>>;

const noSubscription = () => ({ dispose: () => undefined });

/** A host policy that never opens a circuit: every call goes to the wire. */
const passThrough = {
  execute: <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> =>
    Promise.resolve().then(() => fn({ signal: new AbortController().signal })),
  onSuccess: noSubscription,
  onFailure: noSubscription,
} as unknown as HostPolicy;

/**
 * etcd3 client options that let a registration recover promptly after an etcd outage: etcd3's
 * default per-host circuit breaker refuses every call for 5 s after three failures, and grpc's
 * reconnect backoff grows towards two minutes; either can hold a re-registration back long after
 * etcd is reachable again. Spread them into the client you pass to `register()`:
 *
 * @example
 * const client = new Etcd3({ hosts, ...registrarClientOptions() });
 */
export function registrarClientOptions(): Pick<IOptions, "faultHandling" | "grpcOptions"> {
  return {
    faultHandling: { host: () => passThrough },
    grpcOptions: { "grpc.initial_reconnect_backoff_ms": 100, "grpc.max_reconnect_backoff_ms": 1000 },
  };
}
