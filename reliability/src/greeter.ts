// A tiny JSON gRPC service (no .proto): each server answers with its own id, so a client loop can
// count which backend served each call and how many calls failed.
import * as grpc from "@grpc/grpc-js";

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => JSON.parse(bytes.toString("utf8")),
};

const definition = {
  hello: {
    path: "/chaos.Greeter/Hello",
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
  close(): Promise<void>;
}

/** A greeter on 127.0.0.1 with an ephemeral port. */
export async function startGreeter(id: string): Promise<GreeterServer> {
  const server = new grpc.Server();
  server.addService(definition as unknown as grpc.ServiceDefinition, {
    hello: (_call: unknown, callback: (error: null, reply: { id: string }) => void) => callback(null, { id }),
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
  return { id, addr: `127.0.0.1:${port}`, close, [Symbol.asyncDispose]: close };
}

type UnaryCall = (
  request: object,
  options: { deadline: number },
  callback: (error: grpc.ServiceError | null, reply: { id: string }) => void,
) => void;

export interface GreeterClient {
  /** One call; resolves with the id of the server that answered. */
  hello(deadlineMs?: number): Promise<string>;
  close(): void;
}

const GenericClient = grpc.makeGenericClientConstructor(
  definition as unknown as grpc.ServiceDefinition,
  "Greeter",
);

export function greeterClient(target: string): GreeterClient {
  const client = new GenericClient(target, grpc.credentials.createInsecure());
  const call = (client as unknown as Record<string, UnaryCall>)["hello"]!;
  return {
    hello: (deadlineMs = 2_000) =>
      new Promise<string>((resolve, reject) => {
        call.call(client, {}, { deadline: Date.now() + deadlineMs }, (error, reply) =>
          error ? reject(error) : resolve(reply.id),
        );
      }),
    close: () => client.close(),
  };
}

/** What a call loop saw. */
export interface CallStats {
  ok: number;
  failed: number;
  byServer: Record<string, number>;
  failures: { at: number; code: number | undefined; details: string }[];
}

/** Calls in a loop (one call every `intervalMs`) until stopped; counts successes and failures. */
export function callLoop(
  client: GreeterClient,
  intervalMs = 20,
): { stats: CallStats; stop(): Promise<CallStats> } {
  const stats: CallStats = { ok: 0, failed: 0, byServer: {}, failures: [] };
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const id = await client.hello();
        stats.ok++;
        stats.byServer[id] = (stats.byServer[id] ?? 0) + 1;
      } catch (error) {
        const e = error as grpc.ServiceError;
        stats.failed++;
        stats.failures.push({ at: Date.now(), code: e.code, details: e.details ?? String(error) });
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    stats,
    stop: async () => {
      running = false;
      await loop;
      return stats;
    },
  };
}
