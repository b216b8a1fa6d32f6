export type { LogFields, Logger } from "@etcd-naming/etcd";
export type { SubchannelAddress, TcpAddress, UnixAddress } from "./address.js";
export { DEFAULT_PORT, parseAddress } from "./address.js";
export type { ResolverErrorCode } from "./errors.js";
export { ResolverError } from "./errors.js";
export type {
  ProtectedEvent,
  ResolverHandleEvents,
  ServiceFreshEvent,
  ServiceStaleEvent,
  ServiceUpdateEvent,
} from "./handle-events.js";
export type { ProtectionOptions } from "./protection.js";
export type { EtcdResolverHandle, GrpcModule, RegisterEtcdResolverOptions } from "./register.js";
export { registerEtcdResolver } from "./register.js";
export { matchesFilters } from "./select.js";
export type { OutlierDetectionOptions } from "./service-config.js";
export type { EtcdTarget, LoadBalancingPolicy, TargetUri } from "./target.js";
export { parseEtcdTarget, RESERVED_PARAMS } from "./target.js";
