import type { Namespace } from "etcd3";
import { type ClientCertificateInfo, certificateOfPool } from "./client-certificate.js";

// The one module that reaches into etcd3's non-public parts: its connection pool (`pool`, `hosts`,
// `withConnection`, `markFailed`, `callOptionsFactory`, `authenticator.invalidateMetadata`) and a
// namespace's `prefix`. etcd3 ^1.1.2 has this shape; `etcd3-pool.contract.test.ts` runs against the
// installed etcd3 and names the part that is missing when a release changes it.

/** One etcd member of a client (etcd3's `Host`): the unit that calls are routed to and failed over from. */
export interface Member {
  /** host:port, without the scheme. */
  readonly host: string;
}

/** The gRPC services of etcd the packages call. */
export type EtcdService = "KV" | "Lease" | "Watch" | "Maintenance";

/** gRPC metadata of a call (the auth token, when the client authenticates). */
export interface GrpcMetadata {
  clone(): GrpcMetadata;
  set(key: string, value: string): void;
}

/** A unary method of a generated gRPC client: `method(request, metadata, options, callback)`. */
export type UnaryMethod = (
  request: object,
  metadata: GrpcMetadata,
  options: object,
  callback: (error: Error | null, response?: unknown) => void,
) => void;

/** A streaming method of a generated gRPC client: `method(metadata, options)`. */
export type StreamMethod = (metadata: GrpcMetadata, options: object) => unknown;

/** What a connection to a member offers: the service's gRPC client and the call metadata. */
export interface Connection {
  readonly member: Member;
  readonly client: object;
  readonly metadata: GrpcMetadata;
}

/** What a call tells `callOptionsFactory` about itself (etcd3's `ICallContext`). */
export interface CallContext {
  readonly service: EtcdService;
  readonly method: string;
  readonly isStream: boolean;
  readonly params?: object;
}

/** A typed view of an etcd3 client's connection pool. */
export interface EtcdPool {
  /** The client's members, in the order the client was given them. */
  readonly members: readonly Member[];
  /**
   * Runs `fn` on a connection to a member: the next one `order` yields (etcd3's own shuffle when absent),
   * the next after that if a member's circuit breaker refuses the call. A thrown error counts against the
   * member; a value, even an error handed back as one, does not.
   */
  withConnection<T>(
    service: EtcdService,
    fn: (connection: Connection) => T | Promise<T>,
    order?: Iterator<Member>,
  ): Promise<T>;
  /** Counts `error` against `member` and, if it is transient, closes the member's channels. */
  markFailed(member: Member, error: Error): void;
  /** The options the client's `defaultCallOptions` give a call. */
  callOptions(context: CallContext): object;
  /** Drops the cached auth token, so the next call authenticates again ("invalid auth token"). */
  invalidateAuthToken(): void;
  /** The generated gRPC client of `service` on `member` (tests spy on it). */
  serviceClient(member: Member, service: EtcdService): object;
  /** The certificate the client presents to etcd, if any (absent on a stand-in pool). */
  clientCertificate?(): ClientCertificateInfo | undefined;
}

interface RawPool {
  readonly hosts: (Member & { getServiceClient(service: EtcdService): object })[];
  readonly callOptionsFactory?: object | ((context: CallContext) => object);
  readonly authenticator?: { invalidateMetadata?(): void };
  withConnection<T>(
    service: EtcdService,
    fn: (args: { resource: Member; client: object; metadata: GrpcMetadata }) => T | Promise<T>,
    hosts?: Iterator<Member>,
  ): Promise<T>;
  markFailed(resource: Member, error: Error): void;
}

const pools = new WeakMap<object, EtcdPool>();

/**
 * The connection pool of an etcd3 client (an `Etcd3` or a `Namespace`), or undefined if `client` has
 * none this module can drive (a stand-in, or an etcd3 release that changed the pool).
 */
export function etcdPool(client: Namespace): EtcdPool | undefined {
  const raw = (client as unknown as { pool?: RawPool } | null)?.pool;
  if (poolProblems(raw).length > 0) return undefined;
  const pool = raw as RawPool;
  let view = pools.get(pool);
  if (view !== undefined) return view;
  view = {
    members: pool.hosts,
    withConnection: (service, fn, order) =>
      pool.withConnection(
        service,
        ({ resource, client: grpcClient, metadata }) =>
          fn({ member: resource, client: grpcClient, metadata }),
        order,
      ),
    markFailed: (member, error) => pool.markFailed(member, error),
    callOptions: (context) => {
      const factory = pool.callOptionsFactory;
      return typeof factory === "function" ? factory(context) : (factory ?? {});
    },
    invalidateAuthToken: () => pool.authenticator?.invalidateMetadata?.(),
    serviceClient: (member, service) => (member as RawPool["hosts"][number]).getServiceClient(service),
    clientCertificate: () => certificateOfPool(pool),
  };
  pools.set(pool, view);
  return view;
}

/** The key prefix of an etcd3 `Namespace` (empty for an `Etcd3` client). */
export function namespacePrefix(client: Namespace): Buffer {
  const prefix = (client as unknown as { prefix?: unknown }).prefix;
  return Buffer.isBuffer(prefix) ? prefix : Buffer.alloc(0);
}

/**
 * What of the pool shape this module relies on is missing from `client`, one line per part (empty
 * when all is there). The contract test prints these, so an etcd3 release that changes its pool fails
 * with the part named.
 */
export function poolShapeProblems(client: unknown): string[] {
  const raw = (client as { pool?: unknown } | null)?.pool;
  const problems = poolProblems(raw);
  const prefix = (client as { prefix?: unknown } | null)?.prefix;
  if (!Buffer.isBuffer(prefix)) problems.push("client.prefix (a Namespace's key prefix) is not a Buffer");
  if (problems.length > 0) return problems;
  const pool = raw as RawPool;
  if (!("callOptionsFactory" in pool)) problems.push("pool.callOptionsFactory is missing");
  if (typeof pool.authenticator?.invalidateMetadata !== "function") {
    problems.push("pool.authenticator.invalidateMetadata() is missing");
  }
  for (const host of pool.hosts) {
    if (typeof host.host !== "string") problems.push("pool.hosts[i].host (host:port) is not a string");
    if (typeof host.getServiceClient !== "function")
      problems.push("pool.hosts[i].getServiceClient() is missing");
  }
  return problems;
}

function poolProblems(raw: unknown): string[] {
  if (typeof raw !== "object" || raw === null) return ["client.pool (etcd3's connection pool) is missing"];
  const pool = raw as Partial<Record<keyof RawPool, unknown>>;
  const problems: string[] = [];
  if (!Array.isArray(pool.hosts) || pool.hosts.length === 0)
    problems.push("pool.hosts (the members) is not a list");
  if (typeof pool.withConnection !== "function") problems.push("pool.withConnection() is missing");
  if (typeof pool.markFailed !== "function") problems.push("pool.markFailed() is missing");
  return problems;
}
