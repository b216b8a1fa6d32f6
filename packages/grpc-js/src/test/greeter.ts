// A tiny gRPC service defined in code (no .proto): every server answers with its own id, so a test can
// see which backend served each call.
import * as grpc from "@grpc/grpc-js";

/** Any grpc-js copy the tests drive (the installed 1.14 or the 1.10 alias). */
export type Grpc = typeof grpc;

interface Reply {
  id: string;
}

type UnaryCall = (
  request: object,
  options: { deadline: number },
  callback: (error: grpc.ServiceError | null, reply: Reply) => void,
) => void;

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => JSON.parse(bytes.toString("utf8")),
};

export const greeterDefinition = {
  whoAmI: {
    path: "/test.Greeter/WhoAmI",
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
} as const;

export interface GreeterServer extends AsyncDisposable {
  readonly id: string;
  readonly addr: string;
  /** How many calls this server answered. */
  readonly calls: number;
  close(): Promise<void>;
}

/** Starts a greeter on 127.0.0.1 with an ephemeral port (or a Unix socket path). */
export async function startGreeter(
  id: string,
  options: { grpc?: Grpc; bind?: string } = {},
): Promise<GreeterServer> {
  const g = options.grpc ?? grpc;
  const server = new g.Server();
  let calls = 0;
  server.addService(greeterDefinition as unknown as grpc.ServiceDefinition, {
    whoAmI: (_call: unknown, callback: (error: null, reply: Reply) => void) => {
      calls++;
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
  return {
    id,
    addr: bind.startsWith("unix:") ? bind : `127.0.0.1:${port}`,
    get calls() {
      return calls;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

export interface GreeterClient {
  whoAmI(options?: { deadlineMs?: number }): Promise<string>;
  /** Calls `count` times and counts the answers by server id (failures under the key "error"). */
  spread(count: number, options?: { deadlineMs?: number }): Promise<Map<string, number>>;
  close(): void;
  readonly channel: grpc.Channel;
}

/** A client for `target` (e.g. `etcd:///svc`) built from the generic constructor of the given grpc-js. */
export function greeterClient(
  target: string,
  options: { grpc?: Grpc; channelOptions?: grpc.ChannelOptions } = {},
): GreeterClient {
  const g = options.grpc ?? grpc;
  const Client = g.makeGenericClientConstructor(
    greeterDefinition as unknown as grpc.ServiceDefinition,
    "Greeter",
  );
  const client = new Client(target, g.credentials.createInsecure(), options.channelOptions ?? {});
  const whoAmI = (callOptions: { deadlineMs?: number } = {}) =>
    new Promise<string>((resolve, reject) => {
      const deadline = Date.now() + (callOptions.deadlineMs ?? 5000);
      const call = (client as unknown as Record<string, UnaryCall>)["whoAmI"]!;
      call.call(client, {}, { deadline }, (error, reply) => (error ? reject(error) : resolve(reply.id)));
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
