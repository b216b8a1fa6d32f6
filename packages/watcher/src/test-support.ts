// Helpers shared by this package's tests; excluded from the build.
import { connect, createServer, type Server, type Socket } from "node:net";
import type { Clock, TimerHandle } from "./clock.js";
import { systemClock } from "./clock.js";
import type { WatcherError } from "./errors.js";
import type { EndpointsUpdate, ServiceWatcher } from "./service-watcher.js";

/** Records everything a watcher emits. */
export function record(watcher: ServiceWatcher): {
  updates: EndpointsUpdate[];
  errors: WatcherError[];
  states: string[];
} {
  const updates: EndpointsUpdate[] = [];
  const errors: WatcherError[] = [];
  const states: string[] = [];
  watcher.on("update", (u) => updates.push(u));
  watcher.on("error", (e) => errors.push(e));
  watcher.on("stale", () => states.push("stale"));
  watcher.on("fresh", () => states.push("fresh"));
  return { updates, errors, states };
}

/** The system clock, counting its pending timers (to prove none is left behind). */
export function countingClock(): Clock & { pending(): number } {
  const live = new Set<TimerHandle>();
  return {
    now: systemClock.now,
    random: systemClock.random,
    setTimeout(callback, ms) {
      const handle: TimerHandle = systemClock.setTimeout(() => {
        live.delete(handle);
        callback();
      }, ms);
      live.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      live.delete(handle);
      systemClock.clearTimeout(handle);
    },
    pending: () => live.size,
  };
}

/** A TCP proxy in front of one etcd endpoint that can cut and restore the connection. */
export interface CuttableProxy extends AsyncDisposable {
  readonly endpoint: string;
  /** Destroys every connection and refuses new ones. */
  cut(): Promise<void>;
  /** Accepts connections again, on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startProxy(target: string): Promise<CuttableProxy> {
  const [host, portText] = target.split(":") as [string, string];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(portText), host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
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
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  const port = address.port;
  const stop = async () => {
    for (const s of sockets) s.destroy();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    endpoint: `127.0.0.1:${port}`,
    cut: stop,
    restore: () => listen(port),
    close: stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Reads one gauge or counter from etcd's Prometheus endpoint. */
export async function etcdMetric(clientUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${clientUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`metric ${name} not found`);
  return Number(line.slice(name.length + 1));
}
