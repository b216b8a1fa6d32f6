import {
  instrumentsOf,
  type MeterLike,
  type MeterProviderLike,
  meterOf,
  SECONDS_BUCKETS,
} from "@etcd-naming/etcd";

/** The registrar's instruments on one meter. */
export interface RegistrarMetrics {
  /** Adds a lease holder (a lease keeper) to the observed ones; returns a function that removes it. */
  observe(holder: { readonly holdsLease: boolean }): () => void;
  /** A registration of `service` lost its lease. */
  lost(service: string): void;
  /** A registration of `service` is back in etcd under a new lease. */
  reregistered(service: string): void;
  /** A keep-alive was answered `seconds` after it was sent. */
  keptAlive(seconds: number): void;
}

const SCOPE = "@etcd-naming/registrar";
const cache = new WeakMap<MeterLike, RegistrarMetrics>();

/** The registrar's instruments on `provider`'s meter (or the global one's); undefined without either. */
export function registrarMetrics(provider?: MeterProviderLike): RegistrarMetrics | undefined {
  return instrumentsOf(cache, meterOf(SCOPE, provider), make);
}

function make(meter: MeterLike): RegistrarMetrics {
  const holders = new Set<{ readonly holdsLease: boolean }>();
  meter
    .createObservableUpDownCounter("etcd_naming.registrar.leases", {
      description: "Leases this process holds in etcd for its registrations (one per client and TTL).",
      unit: "{lease}",
    })
    .addCallback((result) => {
      let held = 0;
      for (const holder of holders) if (holder.holdsLease) held++;
      result.observe(held);
    });
  const losses = meter.createCounter("etcd_naming.registrar.lease.losses", {
    description: "Registrations whose lease expired or was revoked (each is re-registered).",
    unit: "{loss}",
  });
  const reregistrations = meter.createCounter("etcd_naming.registrar.reregistrations", {
    description: "Registrations put back in etcd under a new lease after losing theirs.",
    unit: "{reregistration}",
  });
  const keepAlive = meter.createHistogram("etcd_naming.registrar.keepalive.duration", {
    description: "Round trip of a lease keep-alive: from the request written to etcd's answer.",
    unit: "s",
    advice: { explicitBucketBoundaries: [...SECONDS_BUCKETS] },
  });
  return {
    observe(holder) {
      holders.add(holder);
      return () => holders.delete(holder);
    },
    lost: (service) => losses.add(1, { service }),
    reregistered: (service) => reregistrations.add(1, { service }),
    keptAlive: (seconds) => keepAlive.record(seconds),
  };
}
