// Every connection this process opens must stay on loopback: the fuzzers write arbitrary addresses into
// the registry and arbitrary endpoints into the CLI, and none of them may reach another machine. The guard
// wraps net.Socket#connect (grpc-js, http2, tls and etcd3 all connect through it) and the resolver
// functions of node:dns (grpc-js's DNS resolver reads them at call time). A connection elsewhere is
// refused and recorded as a violation; a name lookup other than localhost is answered ENOTFOUND without
// leaving the machine, and recorded.
import { createRequire } from "node:module";
import { isIP, Socket } from "node:net";

// The CommonJS exports object, the one grpc-js reads at call time (an ES namespace would be read-only).
const dns = createRequire(import.meta.url)("node:dns") as typeof import("node:dns");

/** What the guard refused since it was installed (or last reset). */
export interface GuardLog {
  /** Connections to a host that is not loopback: must stay empty. */
  connects: string[];
  /** Names looked up that are not loopback names (answered ENOTFOUND locally). */
  lookups: string[];
}

/** Whether `host` is a loopback IP literal or a name Node resolves to loopback without DNS. */
export function isLoopbackHost(host: string | undefined | null): boolean {
  if (host === undefined || host === null || host === "") return true; // net.connect's default: localhost
  let h = host.toLowerCase();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  const family = isIP(h);
  if (family === 4) return h.startsWith("127.");
  if (family === 6) {
    if (h === "::1" || /^(0{1,4}:){7}0{0,3}1$/.test(h)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && mapped[1]!.startsWith("127.");
  }
  return false;
}

const GUARD = Symbol.for("etcd-naming.fuzz.loopback-guard");
type Guarded = { [GUARD]?: GuardLog };

function connectTarget(args: unknown[]): { host?: string | undefined; path?: string | undefined } {
  let first = args[0];
  // net.connect() hands Socket#connect its already normalised [options, callback] array.
  if (Array.isArray(first)) first = first[0];
  if (typeof first === "object" && first !== null) {
    const options = first as { host?: string; hostname?: string; path?: string };
    if (typeof options.path === "string") return { path: options.path };
    return { host: options.host ?? options.hostname };
  }
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    return { host: typeof args[1] === "string" ? args[1] : undefined };
  }
  if (typeof first === "string") return { path: first };
  return {};
}

function notFound(hostname: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(
    `getaddrinfo ENOTFOUND ${hostname} (refused by the fuzz loopback guard)`,
  );
  error.code = "ENOTFOUND";
  error.syscall = "getaddrinfo";
  return error;
}

/**
 * Installs the guard in this process (once; later calls return the same log). Returns the log of what it
 * refused; assert `connects` is empty after every test.
 */
export function installLoopbackGuard(
  onRefused?: (kind: "connect" | "lookup", target: string) => void,
): GuardLog {
  const holder = globalThis as Guarded;
  if (holder[GUARD] !== undefined) return holder[GUARD];
  const log: GuardLog = { connects: [], lookups: [] };
  holder[GUARD] = log;

  const connect = Socket.prototype.connect;
  Socket.prototype.connect = function guardedConnect(this: Socket, ...args: unknown[]) {
    const target = connectTarget(args);
    if (target.path === undefined && !isLoopbackHost(target.host)) {
      const where = String(target.host);
      log.connects.push(where);
      onRefused?.("connect", where);
      const error: NodeJS.ErrnoException = new Error(
        `connect to ${where} refused by the fuzz loopback guard`,
      );
      error.code = "ECONNREFUSED";
      process.nextTick(() => this.destroy(error));
      return this;
    }
    return (connect as (...a: unknown[]) => Socket).apply(this, args);
  } as typeof Socket.prototype.connect;

  const refuseName = (hostname: unknown): boolean => {
    const name = String(hostname);
    if (isLoopbackHost(name)) return false;
    log.lookups.push(name);
    onRefused?.("lookup", name);
    return true;
  };
  const lookup = dns.lookup;
  dns.lookup = function guardedLookup(hostname: string, ...rest: unknown[]) {
    if (refuseName(hostname)) {
      const callback = rest[rest.length - 1];
      if (typeof callback === "function") process.nextTick(() => callback(notFound(hostname)));
      return {} as never;
    }
    return (lookup as (...a: unknown[]) => unknown).call(dns, hostname, ...rest);
  } as typeof dns.lookup;
  const promises = dns.promises;
  const promiseLookup = promises.lookup;
  promises.lookup = async function guardedPromiseLookup(hostname: string, ...rest: unknown[]) {
    if (refuseName(hostname)) throw notFound(hostname);
    return (promiseLookup as (...a: unknown[]) => Promise<unknown>).call(promises, hostname, ...rest);
  } as typeof promises.lookup;
  // Record lookups (TXT for grpc's service config, A/AAAA) never leave the machine from a fuzz run.
  for (const method of ["resolveTxt", "resolve4", "resolve6", "resolveSrv", "resolve"] as const) {
    const refuse = (hostname: unknown): never => {
      refuseName(hostname);
      throw notFound(String(hostname));
    };
    (promises as unknown as Record<string, unknown>)[method] = async (hostname: unknown) => refuse(hostname);
    (promises.Resolver.prototype as unknown as Record<string, unknown>)[method] = async (hostname: unknown) =>
      refuse(hostname);
    (dns as unknown as Record<string, unknown>)[method] = (hostname: unknown, ...rest: unknown[]) => {
      refuseName(hostname);
      const callback = rest[rest.length - 1];
      if (typeof callback === "function") process.nextTick(() => callback(notFound(String(hostname))));
    };
  }
  return log;
}
