// The test greeter every suite speaks: a tiny gRPC service defined in code (no .proto), method
// /test.Greeter/WhoAmI, JSON messages, any request, and the reply {"id": "<server id>"} so a caller sees
// which backend answered. interop's Go helper implements the same wire contract with a raw-bytes codec.
// This is the fixture's only module that loads @grpc/grpc-js, so it has its own entry
// (`@etcd-naming/etcd-fixture/greeter`) and the main entry stays free of it.
import * as grpc from "@grpc/grpc-js";

/** Any grpc-js copy a test drives (the installed one, or an older release under an alias). */
export type Grpc = typeof grpc;

interface Reply {
  id: string;
}

type UnaryCall = (
  request: object,
  metadata: grpc.Metadata,
  options: { deadline: number },
  callback: (error: grpc.ServiceError | null, reply: Reply) => void,
) => void;

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => JSON.parse(bytes.toString("utf8")),
};

const definition = {
  whoAmI: {
    path: "/test.Greeter/WhoAmI",
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
} as unknown as grpc.ServiceDefinition;

/** A greeter server; dispose it (`await using`) or call `close()`. */
export interface GreeterServer extends AsyncDisposable {
  readonly id: string;
  /** `127.0.0.1:port`, or the `unix:` address it was bound to. */
  readonly addr: string;
  /** How many calls this server answered. */
  readonly calls: number;
  /** Every `:authority` the calls it answered carried (empty with grpc-js releases before 1.11). */
  readonly authorities: ReadonlySet<string>;
  /**
   * The peer (`ipv4:127.0.0.1:<client port>`) of every call it answered: one per client connection that
   * carried a call, so a client that reconnects shows up as a new peer.
   */
  readonly peers: ReadonlySet<string>;
  /** Shuts the server down at once. Idempotent. */
  close(): Promise<void>;
  /** Shuts the server down gracefully (grpc-js `tryShutdown`): no new calls, the ones in flight finish. */
  shutdown(): Promise<void>;
}

/**
 * Starts a greeter on 127.0.0.1 with an ephemeral port (or on `bind`, e.g. a `unix:` path). `fail` is
 * asked about every call (numbered from 1): when it returns true the call fails with UNAVAILABLE.
 */
export async function startGreeter(
  id: string,
  options: { grpc?: Grpc; bind?: string; fail?: (call: number) => boolean } = {},
): Promise<GreeterServer> {
  const g = options.grpc ?? grpc;
  const server = new g.Server();
  let calls = 0;
  const authorities = new Set<string>();
  const peers = new Set<string>();
  server.addService(definition, {
    whoAmI: (
      call: { getHost?: () => string; getPeer?: () => string },
      callback: (error: null, reply: Reply) => void,
    ) => {
      calls++;
      const host = call.getHost?.();
      if (host !== undefined) authorities.add(host);
      const peer = call.getPeer?.();
      if (peer !== undefined) peers.add(peer);
      if (options.fail?.(calls)) {
        (callback as unknown as (error: Partial<grpc.ServiceError>) => void)({
          code: g.status.UNAVAILABLE,
          details: `${id} fails this call on purpose`,
        });
        return;
      }
      callback(null, { id });
    },
  });
  const bind = options.bind ?? "127.0.0.1:0";
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(bind, g.ServerCredentials.createInsecure(), (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    );
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    server.forceShutdown();
  };
  const shutdown = async () => {
    if (closed) return;
    closed = true;
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  };
  return {
    id,
    addr: bind.startsWith("unix:") ? bind : `127.0.0.1:${port}`,
    get calls() {
      return calls;
    },
    authorities,
    peers,
    close,
    shutdown,
    [Symbol.asyncDispose]: close,
  };
}

/** Options of {@link greeterClient}. */
export interface GreeterClientOptions {
  /** The grpc-js to build the client with (default: the installed one). */
  grpc?: Grpc;
  channelOptions?: grpc.ChannelOptions;
  /** Each call's deadline unless the call names one (default 5 000 ms). */
  deadlineMs?: number;
}

/** Options of one call. */
export interface CallOptions {
  /** The call's deadline (default: the client's `deadlineMs`). */
  deadlineMs?: number;
  /** Wait for a READY connection rather than fail while the channel is in TRANSIENT_FAILURE. */
  waitForReady?: boolean;
}

export interface GreeterClient {
  /** One call: the id of the server that answered. */
  whoAmI(options?: CallOptions): Promise<string>;
  /** Calls `count` times and counts the answers by server id (failures under the key "error"). */
  spread(count: number, options?: { deadlineMs?: number }): Promise<Map<string, number>>;
  close(): void;
  readonly channel: grpc.Channel;
}

/** A client for `target` (e.g. `etcd:///svc`) built from the generic constructor of the given grpc-js. */
export function greeterClient(target: string, options: GreeterClientOptions = {}): GreeterClient {
  const g = options.grpc ?? grpc;
  const Client = g.makeGenericClientConstructor(definition, "Greeter");
  const client = new Client(target, g.credentials.createInsecure(), options.channelOptions ?? {});
  const whoAmI = (callOptions: CallOptions = {}) =>
    new Promise<string>((resolve, reject) => {
      const deadline = Date.now() + (callOptions.deadlineMs ?? options.deadlineMs ?? 5000);
      const call = (client as unknown as Record<string, UnaryCall>)["whoAmI"]!;
      // grpc-js reads waitForReady from the call's metadata options.
      const metadata = new g.Metadata(callOptions.waitForReady ? { waitForReady: true } : {});
      call.call(client, {}, metadata, { deadline }, (error, reply) =>
        error ? reject(error) : resolve(reply.id),
      );
    });
  return {
    whoAmI,
    async spread(count, callOptions) {
      const counts = new Map<string, number>();
      for (let i = 0; i < count; i++) {
        const id = await whoAmI(callOptions).catch(() => "error");
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      return counts;
    },
    close: () => client.close(),
    channel: client.getChannel() as grpc.Channel,
  };
}

/** One call through a fresh client for `target`; resolves to the server id or rejects with the call's error. */
export async function callGreeterOnce(target: string, options: GreeterClientOptions = {}): Promise<string> {
  const client = greeterClient(target, options);
  try {
    return await client.whoAmI();
  } finally {
    client.close();
  }
}

/** Greeter servers and clients a test file starts, closed together after it. */
export interface Greeters {
  /** Starts a greeter (see {@link startGreeter}) that `close()` shuts down. */
  server(id: string, options?: { bind?: string; fail?: (call: number) => boolean }): Promise<GreeterServer>;
  /** A client (see {@link greeterClient}) that `close()` closes. */
  connect(target: string, options?: Omit<GreeterClientOptions, "grpc">): GreeterClient;
  /** Closes every client, then every server. */
  close(): Promise<void>;
}

/** Tracks the greeters and clients of one test file, all built with `options.grpc` when given. */
export function greeters(options: { grpc?: Grpc } = {}): Greeters {
  const servers: GreeterServer[] = [];
  const clients: GreeterClient[] = [];
  return {
    async server(id, serverOptions = {}) {
      const started = await startGreeter(id, { ...options, ...serverOptions });
      servers.push(started);
      return started;
    },
    connect(target, clientOptions = {}) {
      const created = greeterClient(target, { ...options, ...clientOptions });
      clients.push(created);
      return created;
    },
    async close() {
      for (const client of clients.splice(0)) client.close();
      await Promise.all(servers.splice(0).map((server) => server.close()));
    },
  };
}
