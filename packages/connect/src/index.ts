export type { EtcdTransport, EtcdTransportOptions, EtcdTransportProtocol } from "./transport.js";
export { createEtcdTransport } from "./transport.js";
