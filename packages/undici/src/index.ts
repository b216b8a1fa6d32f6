export type { EtcdDispatcher, EtcdDispatcherOptions } from "./dispatcher.js";
export { createEtcdDispatcher } from "./dispatcher.js";
export { InvalidOptionsError, NoEndpointsError } from "./errors.js";
export type { AnyHandler } from "./handlers.js";
