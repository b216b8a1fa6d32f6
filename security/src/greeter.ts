import * as grpc from "@grpc/grpc-js";

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

type UnaryCall = (
  request: object,
  options: { deadline: number },
  callback: (error: Error | null, reply: { id: string }) => void,
) => void;

/** A gRPC server on loopback that answers every call with its id. */
export async function startGreeter(id: string): Promise<{ addr: string; close(): void }> {
  const server = new grpc.Server();
  server.addService(definition, {
    whoAmI: (_call: unknown, callback: (error: null, reply: { id: string }) => void) =>
      callback(null, { id }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { addr: `127.0.0.1:${port}`, close: () => server.forceShutdown() };
}

/** One call through `target` (e.g. `etcd:///svc`); resolves to the server id or rejects with the call's error. */
export function callOnce(target: string, deadlineMs = 3000): Promise<string> {
  const Client = grpc.makeGenericClientConstructor(definition, "Greeter");
  const client = new Client(target, grpc.credentials.createInsecure());
  return new Promise<string>((resolve, reject) => {
    const call = (client as unknown as Record<string, UnaryCall>)["whoAmI"]!;
    call.call(
      client,
      {},
      { deadline: Date.now() + deadlineMs },
      (error: Error | null, reply: { id: string }) => (error ? reject(error) : resolve(reply.id)),
    );
  }).finally(() => client.close());
}
