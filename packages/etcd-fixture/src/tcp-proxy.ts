// A TCP proxy in front of one etcd member that can cut every connection (a client-side partition:
// the server stays healthy, only the clients behind the proxy lose it) and accept connections again on
// the same port.
import { connect, createServer, type Socket } from "node:net";

/** A proxy started by {@link startTcpProxy}. */
export interface TcpProxy extends AsyncDisposable {
  /** `127.0.0.1:PORT`, for etcd3's `hosts`. */
  readonly endpoint: string;
  /** Destroys every connection and refuses new ones. */
  cut(): Promise<void>;
  /** Accepts connections again, on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a proxy on a free loopback port in front of `target` (`host:port`).
 *
 * @example
 * await using proxy = await startTcpProxy(etcd.endpoints[0]!);
 * const client = new Etcd3({ hosts: [proxy.endpoint] });
 * await proxy.cut(); // the client loses etcd; etcd itself keeps running
 */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const colon = target.lastIndexOf(":");
  const host = target.slice(0, colon);
  const targetPort = Number(target.slice(colon + 1));
  const sockets = new Set<Socket>();
  const server = createServer((downstream) => {
    const upstream = connect(targetPort, host);
    for (const socket of [downstream, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {
        downstream.destroy();
        upstream.destroy();
      });
    }
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  await listen(0);
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the proxy has no port");
  const port = address.port;
  const cut = async () => {
    for (const socket of sockets) socket.destroy();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    endpoint: `127.0.0.1:${port}`,
    cut,
    restore: () => listen(port),
    close: cut,
    [Symbol.asyncDispose]: cut,
  };
}
