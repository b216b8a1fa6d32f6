import * as grpc from "@grpc/grpc-js";

const PATH = "/bench.Echo/Ping";
const identity = (value: Buffer): Buffer => value;

const definition: grpc.ServiceDefinition = {
  Ping: {
    path: PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** A gRPC server with one unary method that echoes raw bytes, so no proto files are needed. */
export interface EchoServer {
  readonly addr: string;
  close(): Promise<void>;
}

export async function startEchoServer(): Promise<EchoServer> {
  const server = new grpc.Server();
  server.addService(definition, {
    Ping: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
      callback(null, call.request),
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return {
    addr: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // A channel that is still connected would hold tryShutdown; the bench is done with them all.
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2_000).unref();
      }),
  };
}

/** Calls Ping on `client`; resolves when it succeeds. `waitForReady` queues it until an endpoint is up. */
export function ping(client: grpc.Client, deadlineMs: number): Promise<void> {
  const metadata = new grpc.Metadata({ waitForReady: true });
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      PATH,
      identity,
      identity,
      Buffer.alloc(0),
      metadata,
      { deadline: Date.now() + deadlineMs },
      (error) => (error ? reject(error) : resolve()),
    );
  });
}
