import { isIP } from "node:net";
import type { ConnectionOptions, TLSSocket } from "node:tls";

/**
 * grpc-js always passes the host of its target as the TLS `servername`, an IP address too (1.14.7, the
 * newest release: `getConnectionOptions` in channel-credentials; 1.10: `Http2SubchannelConnector` in
 * transport). RFC 6066 forbids an IP in SNI: Node 22 and 24 send it with a DEP0123 warning, Node 26 throws
 * ERR_INVALID_ARG_VALUE from `tls.connect`, so an `https://10.0.0.5:2379` endpoint could not connect.
 *
 * Node checks the server certificate against `servername` when it is set and against `host` otherwise
 * (`checkServerIdentity`), so leaving out a `servername` that is an IP and equal to `host` (grpc-js sets
 * both to the same address) sends no SNI, as the RFC asks, and verifies exactly as before: the chain
 * against the CA, and the certificate's IP subject alternative names against that address.
 */
const INSTALLED: unique symbol = Symbol.for("etcd-naming.tls-ip-server-name");

type Connect = (...args: unknown[]) => TLSSocket;

/** Whether this runtime is Node itself (Bun and Deno report a Node version too, with their own TLS). */
function isNode(): boolean {
  const versions = process.versions as Record<string, string | undefined>;
  return versions["bun"] === undefined && versions["deno"] === undefined;
}

let skipVerify = false;

/**
 * `--insecure-skip-tls-verify`: this process's TLS connections made through the patched `tls.connect`
 * accept any certificate from now on (or verify again with `false`). The CLI runs one command a process.
 */
export function skipTlsVerify(skip: boolean): void {
  skipVerify = skip;
  if (skip) omitIpServerName();
}

/** The `tls.connect` options with an IP `servername` equal to `host` left out (`host` set to it). */
export function withoutIpServerName(options: ConnectionOptions): ConnectionOptions {
  const { servername, ...rest } = options;
  if (typeof servername !== "string" || isIP(servername) === 0) return options;
  if (rest.host !== undefined && rest.host !== servername) return options;
  return { ...rest, host: servername };
}

/**
 * Makes this process's `tls.connect` leave out an IP address given as the TLS server name (see above),
 * so TLS to an etcd addressed by IP connects on every supported Node with full certificate verification.
 * Idempotent; does nothing on Bun and Deno. The CLI calls it before it opens a TLS client.
 */
export function omitIpServerName(): void {
  if (!isNode()) return;
  const tls = process.getBuiltinModule("node:tls") as unknown as Record<PropertyKey, unknown> & {
    connect: Connect;
  };
  if (tls[INSTALLED] === true) return;
  const connect = tls.connect;
  tls.connect = function connectWithoutIpServerName(this: unknown, ...args: unknown[]): TLSSocket {
    // grpc-js calls tls.connect(options, callback); the other forms pass through unchanged.
    const [first, ...rest] = args;
    if (typeof first === "object" && first !== null) {
      const options = withoutIpServerName(first as ConnectionOptions);
      if (!skipVerify) return connect.call(this, options, ...rest);
      const unchecked = { ...options, rejectUnauthorized: false, checkServerIdentity: () => undefined };
      const socket = connect.call(this, unchecked, ...rest);
      // grpc-js refuses a socket that is not `authorized` unless its own (unreachable from etcd3) verify
      // options say otherwise: with verification skipped on purpose, the socket counts as authorized.
      Object.defineProperty(socket, "authorized", { get: () => true, set: () => {}, configurable: true });
      return socket;
    }
    return connect.apply(this, args);
  };
  tls[INSTALLED] = true;
}
