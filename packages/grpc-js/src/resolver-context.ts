import type { Clock } from "@etcd-naming/watcher";
import type { ResolverMetrics } from "./metrics.js";
import type { HoldStarted, ResolvedProtection } from "./protection.js";
import type { ResolvedOutlierDetection } from "./service-config.js";
import type { ViewShare } from "./service-views.js";
import type { LoadBalancingPolicy } from "./target.js";

/** What every resolver of one registration shares. */
export interface ResolverContext {
  readonly scheme: string;
  /** The registration's `defaultLoadBalancing`; null when not given (automatic: weighted or round_robin). */
  readonly defaultPolicy: LoadBalancingPolicy | null;
  /** Whether the weighted policy is registered in the grpc-js of this registration. */
  readonly weightedPolicy: boolean;
  readonly clock: Clock;
  /** Where the resolvers' metrics go; undefined records none. */
  readonly metrics: ResolverMetrics | undefined;
  /**
   * Runs a callback once the current one has returned (a microtask), for watcher news that needs no
   * waiting; null when an injected clock drives every wait (then a zero-delay timer of that clock is used).
   */
  readonly defer: ((callback: () => void) => void) | null;
  /** The shortest time between two listener calls of one channel. */
  readonly minUpdateIntervalMs: number;
  /** The longest the adaptive spacing may grow to on very large services. */
  readonly maxUpdateIntervalMs: number;
  readonly subsetSeed: string;
  /** Outlier detection for channels without `?outlier=`, null when off. */
  readonly outlierDetection: ResolvedOutlierDetection | null;
  /** Mass-removal protection, null when turned off. */
  readonly protection: ResolvedProtection | null;
  /** Whether `close()` was called on the registration. */
  readonly closed: boolean;
  /** A share of the service's watcher view (one per service for all channels of the registration). */
  acquire(service: string): ViewShare;
  newMetadata(): unknown;
  warnInvalidAddress(service: string, key: string, addr: string): void;
  /** An endpoint's weight attribute is not a valid weight (it counts as 1). */
  warnInvalidWeight(service: string, key: string, value: string): void;
  /** The weighted policy was wanted and this grpc-js cannot run it. */
  weightedUnavailable(): void;
  warn(service: string, message: string, cause?: unknown): void;
  /** A channel of `service` began holding endpoints an update removed. */
  holding(service: string, started: HoldStarted): void;
  /** A channel of `service` stopped holding them. */
  released(service: string, why: "expired" | "recovered"): void;
  /** Tracks live resolvers so `close()` can silence them. */
  attach(resolver: { destroy(): void }): void;
  detach(resolver: { destroy(): void }): void;
}
