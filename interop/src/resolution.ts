// Observes what our grpc-js resolver hands to a channel, through grpc-js's own resolver registry
// (`experimental.createResolver`), without a channel in the way.
import { experimental, type StatusObject } from "@grpc/grpc-js";

/** The latest resolution of one target: sorted `host:port` addresses, or the error reported. */
export type Resolution = { addrs: string[] } | { error: string } | undefined;

export interface ResolutionProbe extends Disposable {
  /** The latest resolution (undefined until the resolver reports). */
  current(): Resolution;
  /** How many times the resolver reported. */
  readonly reports: number;
  destroy(): void;
}

type Address = { host: string; port: number } | { path: string };

const hostPort = (host: string, port: number): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;

/** Starts the resolver registered for `etcd:` on `etcd:///<pathAndQuery>` and records what it reports. */
export function probeResolution(pathAndQuery: string): ResolutionProbe {
  let latest: Resolution;
  let reports = 0;
  const listener = (
    endpoints: { ok: true; value: { addresses: Address[] }[] } | { ok: false; error: StatusObject },
  ): boolean => {
    reports++;
    latest = endpoints.ok
      ? {
          addrs: endpoints.value
            .flatMap((endpoint) => endpoint.addresses)
            .map((a) => ("path" in a ? a.path : hostPort(a.host, a.port)))
            .sort(),
        }
      : { error: endpoints.error.details };
    return true;
  };
  const resolver = experimental.createResolver(
    { scheme: "etcd", authority: "", path: pathAndQuery },
    listener as unknown as experimental.ResolverListener,
    {},
  );
  resolver.updateResolution();
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    resolver.destroy();
  };
  return {
    current: () => latest,
    get reports() {
      return reports;
    },
    destroy,
    [Symbol.dispose]: destroy,
  };
}
