// The Greeter these examples share: frameworks/greeter.proto loaded at run time with @grpc/proto-loader (no
// code generation), plus a grpc-js server that registers itself in etcd through the registrar and answers
// every call with its own id, so a test sees which backend served it.
import { fileURLToPath } from "node:url";
import { register } from "@etcd-naming/registrar";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { Etcd3 } from "etcd3";

export const protoPath = fileURLToPath(new URL("greeter.proto", import.meta.url));

const definition = protoLoader.loadSync(protoPath);
const loaded = grpc.loadPackageDefinition(definition) as unknown as {
  frameworks: { Greeter: grpc.ServiceClientConstructor };
};
/** The grpc-js service definition of frameworks.Greeter. */
export const greeterService = loaded.frameworks.Greeter.service;

export interface WhoAmIReply {
  id: string;
}

/** A registered greeter server; `close()` deregisters it and shuts it down. */
export interface RegisteredGreeter {
  readonly id: string;
  readonly addr: string;
  close(): Promise<void>;
}

/** Starts a grpc-js greeter on 127.0.0.1 and registers it under `service`. */
export async function startRegisteredGreeter(
  client: Etcd3,
  service: string,
  id: string,
): Promise<RegisteredGreeter> {
  const server = new grpc.Server();
  server.addService(greeterService, {
    whoAmI: (_call: unknown, callback: grpc.sendUnaryData<WhoAmIReply>) => callback(null, { id }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const addr = `127.0.0.1:${port}`;
  const registration = await register({ client, service, addr, ttl: 5 });
  return {
    id,
    addr,
    async close() {
      await registration.deregister();
      server.forceShutdown();
    },
  };
}
