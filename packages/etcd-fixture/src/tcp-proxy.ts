// A TCP proxy in front of one etcd member that can cut every connection (a client-side partition:
// the server stays healthy, only the clients behind the proxy lose it) and accept connections again on
// the same port. It can also delay every chunk it forwards and now and then hold a direction back, the
// way a lossy link stalls a TCP stream while a lost segment is retransmitted (the kernel here has no
// netem; this is the userspace stand-in, on whole chunks rather than packets).
import { connect, createServer, type Socket } from "node:net";

/** How a {@link startTcpProxy} proxy slows its traffic (default: not at all). */
export interface TcpProxyOptions {
  /** Every chunk is forwarded this long after it arrived, in each direction, order kept (default 0). */
  delayMs?: number;
  /**
   * The chance (0–1) that a chunk is held back a further `stallMs`, with everything behind it: a lost
   * segment stalling the stream until it is retransmitted (default 0).
   */
  stallChance?: number;
  /** How long a stall lasts, in ms (default 200, Linux's minimum retransmission timeout). */
  stallMs?: number;
  /** Draws for `stallChance` (default `Math.random`). */
  random?: () => number;
}

/** What a delayed proxy did, for the report. */
export interface TcpProxyStats {
  chunks: number;
  stalls: number;
}

/** A proxy started by {@link startTcpProxy}. */
export interface TcpProxy extends AsyncDisposable {
  /** `127.0.0.1:PORT`, for etcd3's `hosts`. */
  readonly endpoint: string;
  /** Destroys every connection and refuses new ones. */
  cut(): Promise<void>;
  /** Accepts connections again, on the same port. */
  restore(): Promise<void>;
  /** Chunks forwarded and stalls made so far. */
  stats(): TcpProxyStats;
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
export async function startTcpProxy(target: string, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const colon = target.lastIndexOf(":");
  const host = target.slice(0, colon);
  const targetPort = Number(target.slice(colon + 1));
  const sockets = new Set<Socket>();
  const delayMs = options.delayMs ?? 0;
  const stallChance = options.stallChance ?? 0;
  const stallMs = options.stallMs ?? 200;
  const random = options.random ?? Math.random;
  const slow = delayMs > 0 || stallChance > 0;
  const stats: TcpProxyStats = { chunks: 0, stalls: 0 };
  // One queue and one timer per direction, so chunks leave in the order they came.
  const forwardSlowly = (from: Socket, to: Socket) => {
    const queue: { due: number; chunk: Buffer | null }[] = [];
    let lastDue = 0;
    let timer: NodeJS.Timeout | undefined;
    const drain = () => {
      timer = undefined;
      const now = Date.now();
      while (queue.length > 0 && queue[0]!.due <= now) {
        const { chunk } = queue.shift()!;
        if (to.destroyed) return;
        if (chunk === null) to.end();
        else to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(drain, queue[0]!.due - now);
    };
    const enqueue = (chunk: Buffer | null) => {
      let due = Math.max(Date.now() + delayMs, lastDue);
      if (chunk !== null) {
        stats.chunks++;
        if (stallChance > 0 && random() < stallChance) {
          stats.stalls++;
          due += stallMs;
        }
      }
      lastDue = due;
      queue.push({ due, chunk });
      timer ??= setTimeout(drain, Math.max(0, due - Date.now()));
    };
    from.on("data", (chunk: Buffer) => enqueue(chunk));
    from.on("end", () => enqueue(null));
    from.on("close", () => {
      if (timer !== undefined && to.destroyed) clearTimeout(timer);
    });
    to.on("close", () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      queue.length = 0;
    });
  };
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
    if (slow) {
      forwardSlowly(downstream, upstream);
      forwardSlowly(upstream, downstream);
    } else {
      downstream.pipe(upstream);
      upstream.pipe(downstream);
    }
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
    stats: () => ({ ...stats }),
    close: cut,
    [Symbol.asyncDispose]: cut,
  };
}
