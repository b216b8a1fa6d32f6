export type { BackoffOptions } from "./backoff.js";
export { registrarClientOptions } from "./client-options.js";
export type { Clock, ClockTimer, RegistrarLogger } from "./clock.js";
export { systemClock } from "./clock.js";
export type { Drain, DrainOptions } from "./drain.js";
export { drainOnSignals } from "./drain.js";
export type {
  EndpointManager,
  EndpointManagerOptions,
  EndpointUpdate,
  UpdateOptions,
  WatchOptions,
} from "./endpoint-manager.js";
export { createEndpointManager } from "./endpoint-manager.js";
export type { RegistrarErrorCode } from "./errors.js";
export { RegistrarError } from "./errors.js";
export { formatLeaseId } from "./lease-id.js";
export type { RegisterOptions, RegistrationEvents } from "./registration.js";
export { Registration, register } from "./registration.js";
export { DEFAULT_MAX_TXN_OPS, DEFAULT_TTL_SECONDS, MIN_TTL_SECONDS } from "./validate.js";
