// The test greeter both sides speak: method /test.Greeter/WhoAmI, JSON messages, any request, and the
// reply {"id": "<server id>"} so a caller sees which backend answered. It is the wire contract of
// packages/grpc-js's test greeter; the Go helper implements the same one with a raw-bytes codec.
import * as grpc from "@grpc/grpc-js";

interface Reply {
  id: string;
}

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
} as const;

/** A grpc-js greeter server on 127.0.0.1 with an ephemeral port. */
export interface NodeGreeter extends AsyncDisposable {
  readonly id: string;
  readonly addr: string;
  /** How many calls it answered. */
  readonly calls: number;
  /** Every `:authority` the calls it answered carried. */
  readonly authorities: ReadonlySet<string>;
  close(): Promise<void>;
}

export async function startNodeGreeter(id: string): Promise<NodeGreeter> {
  const server = new grpc.Server();
  let calls = 0;
  const authorities = new Set<string>();
  server.addService(definition as unknown as grpc.ServiceDefinition, {
    whoAmI: (call: { getHost(): string }, callback: (error: null, reply: Reply) => void) => {
      calls++;
      authorities.add(call.getHost());
      callback(null, { id });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
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
    addr: `127.0.0.1:${port}`,
    get calls() {
      return calls;
    },
    authorities,
    close,
    [Symbol.asyncDispose]: close,
  };
}

type UnaryCall = (
  request: object,
  options: { deadline: number },
  callback: (error: grpc.ServiceError | null, reply: Reply) => void,
) => void;

/** A greeter client for a target such as `etcd:///svc`. */
export interface NodeGreeterClient {
  /** One call: the id of the server that answered. */
  whoAmI(deadlineMs?: number): Promise<string>;
  close(): void;
}

export function nodeGreeterClient(target: string): NodeGreeterClient {
  const Client = grpc.makeGenericClientConstructor(
    definition as unknown as grpc.ServiceDefinition,
    "Greeter",
  );
  const client = new Client(target, grpc.credentials.createInsecure());
  const call = (client as unknown as Record<string, UnaryCall>)["whoAmI"]!;
  return {
    whoAmI: (deadlineMs = 2_000) =>
      new Promise<string>((resolve, reject) => {
        call.call(client, {}, { deadline: Date.now() + deadlineMs }, (error, reply) =>
          error ? reject(error) : resolve(reply.id),
        );
      }),
    close: () => client.close(),
  };
}
