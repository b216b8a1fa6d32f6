export type { EtcdDispatcher, EtcdDispatcherOptions } from "./dispatcher.js";
export { createEtcdDispatcher } from "./dispatcher.js";
export { InvalidOptionsError, NoEndpointsError } from "./errors.js";
export type { AnyHandler } from "./handlers.js";
// undici's own request() and fetch(), from the npm undici the dispatcher runs on. On Node.js and Deno they
// are the ones `import "undici"` gives; on Bun, whose `import "undici"` is a built-in module that ignores
// dispatchers, they are the way to send a request through the dispatcher.
export { fetch, request } from "./undici.js";
