import type { LoadBalancingPolicy } from "./target.js";

/** The service config the resolver hands grpc-js: only the load-balancing policy. */
export interface PolicyServiceConfig {
  loadBalancingConfig: Array<Record<string, Record<string, never>>>;
  methodConfig: never[];
}

/** A service config selecting `policy`, in the shape both grpc-js 1.10 and 1.14 accept. */
export function serviceConfigFor(policy: LoadBalancingPolicy): PolicyServiceConfig {
  return { loadBalancingConfig: [{ [policy]: {} }], methodConfig: [] };
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
