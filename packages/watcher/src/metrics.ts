import {
  type CounterLike,
  instrumentsOf,
  type MeterLike,
  type MeterProviderLike,
  meterOf,
  observeMax,
  observeSum,
  PrefixWatchError,
} from "@etcd-naming/etcd";
import { WatcherError } from "./errors.js";

/** What the observable instruments read from one service's core. */
export interface ObservedCore {
  readonly service: string;
  /** Endpoints held (decoded; before any view's filter). */
  readonly endpointCount: number;
  /** Seconds since the core went stale; 0 while fresh. */
  staleSeconds(): number;
  /** Whether etcd has created the core's watch and it has not ended. */
  readonly streamOpen: boolean;
}

/** Why a watch was opened again (the `reason` attribute). */
export type RestartReason =
  /** The member did not answer a create or progress request in time. */
  | "member_silent"
  /** The stream broke or ended (a member stopped, a connection reset). */
  | "stream_broken"
  /** etcd cancelled the watch. */
  | "cancelled"
  /** etcd refused the read. */
  | "permission_denied";

/** The watcher's instruments on one meter. */
export interface WatcherMetrics {
  /** Adds a core to the observed ones; returns a function that removes it. */
  observe(core: ObservedCore): () => void;
  /** A watch failed and will be opened again. */
  restarted(service: string, reason: RestartReason): void;
  /** A compaction made the service list again. */
  relisted(service: string): void;
}

const SCOPE = "@etcd-naming/watcher";
const cache = new WeakMap<MeterLike, WatcherMetrics>();

/** The watcher's instruments on `provider`'s meter (or the global one's); undefined without either. */
export function watcherMetrics(provider?: MeterProviderLike): WatcherMetrics | undefined {
  return instrumentsOf(cache, meterOf(SCOPE, provider), make);
}

/** The reason a watch ended with `cause`. */
export function restartReason(cause: unknown): RestartReason {
  if (cause instanceof WatcherError && cause.code === "PERMISSION_DENIED") return "permission_denied";
  for (let error = cause, depth = 0; error instanceof Error && depth < 4; depth++) {
    if (error instanceof PrefixWatchError) {
      if (error.failure === "silent") return "member_silent";
      return error.failure === "denied" ? "permission_denied" : "cancelled";
    }
    error = error.cause;
  }
  return "stream_broken";
}

/** The member failed the watch (rather than etcd refusing it): the next stream goes to another member. */
function isFailover(reason: RestartReason): boolean {
  return reason === "member_silent" || reason === "stream_broken";
}

function make(meter: MeterLike): WatcherMetrics {
  const cores = new Set<ObservedCore>();
  const each = <T>(value: (core: ObservedCore) => T) =>
    [...cores].map((core) => [core.service, value(core)] as const);
  meter
    .createObservableGauge("etcd_naming.service.endpoints", {
      description: "Endpoints of the service in the watcher's set (before a resolver's filters).",
      unit: "{endpoint}",
    })
    .addCallback((result) =>
      observeMax(
        result,
        each((core) => core.endpointCount),
      ),
    );
  meter
    .createObservableGauge("etcd_naming.service.staleness", {
      description: "Seconds since the service's watcher lost etcd; 0 while it is fresh.",
      unit: "s",
    })
    .addCallback((result) =>
      observeMax(
        result,
        each((core) => core.staleSeconds()),
      ),
    );
  meter
    .createObservableUpDownCounter("etcd_naming.watch.streams", {
      description: "Watch streams etcd has created and not ended.",
      unit: "{stream}",
    })
    .addCallback((result) =>
      observeSum(
        result,
        each((core) => (core.streamOpen ? 1 : 0)),
      ),
    );
  const restarts: CounterLike = meter.createCounter("etcd_naming.watch.restarts", {
    description: "Watches that failed and were opened again, by reason.",
    unit: "{restart}",
  });
  const failovers: CounterLike = meter.createCounter("etcd_naming.watch.failovers", {
    description: "Watches moved to another etcd member because theirs went silent or broke, by reason.",
    unit: "{failover}",
  });
  const relists: CounterLike = meter.createCounter("etcd_naming.watch.relists", {
    description: "Listings made again because etcd compacted the revision a watch was to resume from.",
    unit: "{relist}",
  });
  return {
    observe(core) {
      cores.add(core);
      return () => cores.delete(core);
    },
    restarted(service, reason) {
      restarts.add(1, { service, reason });
      if (isFailover(reason)) failovers.add(1, { service, reason });
    },
    relisted(service) {
      relists.add(1, { service });
    },
  };
}
