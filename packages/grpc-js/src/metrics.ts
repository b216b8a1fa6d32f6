import {
  instrumentsOf,
  type MeterLike,
  type MeterProviderLike,
  meterOf,
  SECONDS_BUCKETS,
} from "@etcd-naming/etcd";

/** What a resolver told its channel. */
export type DeliveredKind = "endpoints" | "empty" | "error";

/** The resolver's instruments on one meter. */
export interface ResolverMetrics {
  /**
   * A channel of `service` was told something new; `seconds` is how long the change took from the
   * watcher receiving it to this call, when the call delivers a change the watcher received.
   */
  delivered(service: string, kind: DeliveredKind, seconds: number | undefined): void;
}

const SCOPE = "@etcd-naming/grpc-js";
const cache = new WeakMap<MeterLike, ResolverMetrics>();

/** The resolver's instruments on `provider`'s meter (or the global one's); undefined without either. */
export function resolverMetrics(provider?: MeterProviderLike): ResolverMetrics | undefined {
  return instrumentsOf(cache, meterOf(SCOPE, provider), (meter) => {
    const updates = meter.createCounter("etcd_naming.resolver.updates", {
      description: "Resolution results delivered to grpc-js channels (endpoints, an empty list or an error).",
      unit: "{update}",
    });
    const propagation = meter.createHistogram("etcd_naming.resolver.propagation.duration", {
      description:
        "Seconds from a change's watch response (or listing) arriving from etcd to the resolver handing it to a grpc-js channel.",
      unit: "s",
      advice: { explicitBucketBoundaries: [...SECONDS_BUCKETS] },
    });
    return {
      delivered(service, kind, seconds) {
        updates.add(1, { service, kind });
        if (seconds !== undefined) propagation.record(seconds, { service });
      },
    };
  });
}
