import type { LoadBalancingPolicy } from "./target.js";
import { WEIGHTED_POLICY, type WeightedPolicyConfig } from "./weighting.js";

/** The service config the resolver hands grpc-js: only the load-balancing policy. */
export interface PolicyServiceConfig {
  loadBalancingConfig: Array<Record<string, Record<string, unknown>>>;
  methodConfig: never[];
}

/**
 * Outlier detection (grpc-js's built-in `outlier_detection` policy, wrapped around the channel's policy):
 * an endpoint whose calls fail more than `failurePercent` of the time is ejected (no new calls) while etcd
 * still lists it, and returns after the ejection time.
 */
export interface OutlierDetectionOptions {
  /** How often call results are counted and ejections decided, in ms (default 1,000). */
  intervalMs?: number;
  /** How long a first ejection lasts, in ms (default 10,000); each further one of the same endpoint adds as much. */
  baseEjectionMs?: number;
  /** The longest an ejection lasts, in ms (default 300,000). */
  maxEjectionMs?: number;
  /** At most this share of the endpoints is ejected at once, in % (default 50). */
  maxEjectionPercent?: number;
  /** Eject an endpoint whose calls failed more than this share of the time in an interval, in % (default 40). */
  failurePercent?: number;
  /** Eject only when at least this many endpoints had `requestVolume` calls in the interval (default 2). */
  minimumHosts?: number;
  /** Judge an endpoint only after this many calls in the interval (default 10). */
  requestVolume?: number;
}

export type ResolvedOutlierDetection = Required<OutlierDetectionOptions>;

export const DEFAULT_OUTLIER_DETECTION: ResolvedOutlierDetection = {
  intervalMs: 1_000,
  baseEjectionMs: 10_000,
  maxEjectionMs: 300_000,
  maxEjectionPercent: 50,
  failurePercent: 40,
  minimumHosts: 2,
  requestVolume: 10,
};

const LIMITS: Record<keyof OutlierDetectionOptions, [number, number, boolean]> = {
  // [min, max, whole number]
  intervalMs: [1, 2 ** 31 - 1, false],
  baseEjectionMs: [1, 2 ** 31 - 1, false],
  maxEjectionMs: [1, 2 ** 31 - 1, false],
  maxEjectionPercent: [0, 100, false],
  failurePercent: [0, 100, false],
  minimumHosts: [1, 1_000_000, true],
  requestVolume: [1, 1_000_000_000, true],
};

/** Validates the registration's `outlierDetection` option: off (false or absent), defaults (true) or settings. */
export function resolveOutlierDetection(
  value: OutlierDetectionOptions | boolean | undefined,
  invalid: (message: string) => Error,
): ResolvedOutlierDetection | null {
  if (value === undefined || value === false) return null;
  if (value === true) return DEFAULT_OUTLIER_DETECTION;
  if (typeof value !== "object" || value === null) {
    throw invalid(`outlierDetection must be a boolean or an object, got ${String(value)}`);
  }
  const resolved = { ...DEFAULT_OUTLIER_DETECTION };
  for (const name of Object.keys(LIMITS) as (keyof OutlierDetectionOptions)[]) {
    const given = value[name];
    if (given === undefined) continue;
    const [min, max, whole] = LIMITS[name];
    if (typeof given !== "number" || !(given >= min && given <= max) || (whole && !Number.isInteger(given))) {
      throw invalid(
        `outlierDetection.${name} must be a ${whole ? "whole " : ""}number from ${min} to ${max}, got ${String(given)}`,
      );
    }
    resolved[name] = given;
  }
  return resolved;
}

function duration(ms: number): { seconds: number; nanos: number } {
  // Whole microseconds, so nanos stays below 10^9 whatever fraction of a millisecond was given.
  const micros = Math.round(ms * 1000);
  return { seconds: Math.floor(micros / 1e6), nanos: (micros % 1e6) * 1000 };
}

/**
 * A service config selecting `policy`, in the shape both grpc-js 1.10 and 1.14 accept; with `outlier`,
 * the policy runs as the child of grpc-js's `outlier_detection` (failure-percentage ejection). The
 * weighted policy takes `weighted` as its config (its endpoints' weights; none by default).
 */
export function serviceConfigFor(
  policy: LoadBalancingPolicy,
  outlier: ResolvedOutlierDetection | null = null,
  weighted: WeightedPolicyConfig = { endpoints: [] },
): PolicyServiceConfig {
  const child: Record<string, Record<string, unknown>> = policy === "weighted"
    ? { [WEIGHTED_POLICY]: { ...weighted } }
    : { [policy]: {} };
  if (outlier === null) return { loadBalancingConfig: [child], methodConfig: [] };
  return {
    loadBalancingConfig: [
      {
        outlier_detection: {
          interval: duration(outlier.intervalMs),
          base_ejection_time: duration(outlier.baseEjectionMs),
          max_ejection_time: duration(outlier.maxEjectionMs),
          max_ejection_percent: outlier.maxEjectionPercent,
          failure_percentage_ejection: {
            threshold: outlier.failurePercent,
            enforcement_percentage: 100,
            minimum_hosts: outlier.minimumHosts,
            request_volume: outlier.requestVolume,
          },
          child_policy: [child],
        },
      },
    ],
    methodConfig: [],
  };
}

/**
 * Whether the channel's own options decide the service config. grpc-js applies a resolver's config over
 * the `grpc.service_config` channel option, so the resolver sends none when the user gave one (or opted
 * out of resolver configs with `grpc.service_config_disable_resolution`).
 */
export function channelConfigWins(channelOptions: Readonly<Record<string, unknown>>): boolean {
  const own = channelOptions["grpc.service_config"];
  return (
    (typeof own === "string" && own.length > 0) ||
    Boolean(channelOptions["grpc.service_config_disable_resolution"])
  );
}
