// A real grpc-js channel on the `etcd:` resolver, watched from the side: the resolver is registered into
// grpc-js through a wrapper module whose resolver class hands grpc-js a listener that records every call
// (what the resolver told the channel) before passing it on. Only loopback TCP addresses are passed on:
// the registry under test holds arbitrary addresses, and none of them may be dialled.
import type { GrpcModule } from "@etcd-naming/grpc-js";
import * as grpc from "@grpc/grpc-js";
import { isLoopbackHost } from "./loopback-guard.js";

type Address = { host: string; port: number } | { path: string };
type EndpointList =
  | { ok: true; value: { addresses: Address[] }[] }
  | { ok: false; error: { details: string } };
type Listener = (
  endpoints: EndpointList,
  attributes: unknown,
  serviceConfig: unknown,
  note: string,
) => boolean;

/** What the resolver last told one channel, and what it told it over time. */
export interface Observation {
  /** Listener calls so far. */
  calls: number;
  /** The last call: a non-empty list, an empty list, an error, or nothing yet. */
  kind: "none" | "endpoints" | "empty" | "error";
  /** The addresses of the last call (`host:port`, `[v6]:port`, `unix:path`), in order; empty unless `endpoints`. */
  addresses: string[];
  /** The last call's error details or resolution note. */
  details: string;
  /** Whether any call so far carried a non-empty list. */
  hadEndpoints: boolean;
  /** Addresses the tap kept from grpc-js because they are not loopback TCP. */
  filtered: string[];
  /** Every call, oldest first (bounded). */
  history: { at: number; kind: Observation["kind"]; addresses: number; details: string }[];
}

/** How the resolver writes an address, so expected and observed lists compare as text. */
export function addressText(address: Address): string {
  if ("path" in address) return `unix:${address.path}`;
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function dialable(address: Address): boolean {
  return !("path" in address) && isLoopbackHost(address.host);
}

/** A tapped grpc module to pass as `registerEtcdResolver({ grpc })`, and the observations by target path. */
export function tappedGrpc(): { grpc: GrpcModule; observe(path: string): Observation } {
  const observations = new Map<string, Observation>();
  const observe = (path: string): Observation => {
    let observation = observations.get(path);
    if (observation === undefined) {
      observation = {
        calls: 0,
        kind: "none",
        addresses: [],
        details: "",
        hadEndpoints: false,
        filtered: [],
        history: [],
      };
      observations.set(path, observation);
    }
    return observation;
  };

  const tap = (path: string, listener: unknown): Listener => {
    if (typeof listener !== "function") {
      throw new Error("the fuzz tap handles grpc-js 1.14's function listener only");
    }
    const forward = listener as Listener;
    return (endpoints, attributes, serviceConfig, note) => {
      const o = observe(path);
      o.calls++;
      if (endpoints.ok) {
        const all = endpoints.value.flatMap((e) => e.addresses.map(addressText));
        o.kind = all.length > 0 ? "endpoints" : "empty";
        o.addresses = all;
        o.details = note;
        if (all.length > 0) o.hadEndpoints = true;
        const kept = endpoints.value
          .map((e) => ({ ...e, addresses: e.addresses.filter(dialable) }))
          .filter((e) => e.addresses.length > 0);
        const dropped = endpoints.value.flatMap((e) =>
          e.addresses.filter((a) => !dialable(a)).map(addressText),
        );
        o.filtered.push(...dropped.slice(0, 100));
        if (o.history.length < 1000)
          o.history.push({ at: Date.now(), kind: o.kind, addresses: all.length, details: note });
        if (kept.length === 0 && all.length > 0) {
          // Nothing here may be dialled: tell the channel it cannot resolve, rather than "no endpoints".
          const error = {
            code: grpc.status.UNAVAILABLE,
            details: "fuzz tap: no loopback address",
            metadata: new grpc.Metadata(),
          };
          return forward({ ok: false, error }, attributes, serviceConfig, note);
        }
        return forward({ ok: true, value: kept }, attributes, serviceConfig, note);
      }
      o.kind = "error";
      o.addresses = [];
      o.details = endpoints.error.details;
      if (o.history.length < 1000)
        o.history.push({ at: Date.now(), kind: "error", addresses: 0, details: o.details });
      return forward(endpoints, attributes, serviceConfig, note);
    };
  };

  const module: GrpcModule = {
    Metadata: grpc.Metadata,
    experimental: {
      registerResolver(scheme: string, resolverClass: never) {
        const Real = resolverClass as unknown as {
          new (target: { path: string }, listener: unknown, options: unknown): object;
          getDefaultAuthority(target: unknown): string;
        };
        class TappedResolver {
          static getDefaultAuthority(target: unknown): string {
            return Real.getDefaultAuthority(target);
          }
          constructor(target: { path: string }, listener: unknown, options: unknown) {
            // biome-ignore lint/correctness/noConstructorReturn: the real resolver is the object grpc-js gets.
            return new Real(target, tap(target.path, listener), options);
          }
        }
        grpc.experimental.registerResolver(scheme, TappedResolver as never);
      },
    },
  };
  return { grpc: module, observe };
}

const echoDefinition = {
  say: {
    path: "/fuzz.Echo/Say",
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
} as unknown as grpc.ServiceDefinition;

/** A gRPC server on 127.0.0.1 that answers `/fuzz.Echo/Say` with "echo". */
export async function startEcho(): Promise<{ addr: string; close(): void }> {
  const server = new grpc.Server();
  server.addService(echoDefinition, {
    say: (_call: unknown, callback: (error: null, reply: Buffer) => void) =>
      callback(null, Buffer.from("echo")),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { addr: `127.0.0.1:${port}`, close: () => server.forceShutdown() };
}

/** One call on `client`: resolves to "ok" or to the failing status (code, details, how long it took). */
export function callEcho(
  client: grpc.Client,
  deadlineMs: number,
): Promise<{ ok: true; ms: number } | { ok: false; code: number; details: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      "/fuzz.Echo/Say",
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (error, _reply) => {
        const ms = Date.now() - started;
        if (error === null) resolve({ ok: true, ms });
        else resolve({ ok: false, code: error.code ?? -1, details: error.details ?? error.message, ms });
      },
    );
  });
}
