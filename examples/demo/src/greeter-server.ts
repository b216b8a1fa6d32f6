// One greeter server of the demo, run as its own Node process so that a SIGKILL is a real crash. It
// registers itself with the registrar (TTL 5 s) and drains on SIGTERM; the demo follows it over IPC.
import { drainOnSignals, register, registrarClientOptions } from "@etcd-naming/registrar";
import * as grpc from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
import { greeterService, type HelloReply, type HelloRequest } from "./greeter.js";
import type { DemoMessage, ServerMessage } from "./messages.js";

const name = process.env["SERVER_NAME"] ?? `greeter-${process.pid}`;
const service = process.env["SERVICE"] ?? "demo/greeter";
const hosts = (process.env["ETCD_ENDPOINTS"] ?? "127.0.0.1:2379").split(",");
const ttl = Number(process.env["TTL"] ?? 5);
const grace = Number(process.env["GRACE_MS"] ?? 1_500);

const send = (message: ServerMessage): void => {
  if (process.connected) process.send?.(message);
};

// Without the demo there is nobody to stop this process: exit, and let the lease expire.
process.on("disconnect", () => process.exit(0));

const server = new grpc.Server();
server.addService(greeterService, {
  sayHello(call: grpc.ServerUnaryCall<HelloRequest, HelloReply>, callback: grpc.sendUnaryData<HelloReply>) {
    callback(null, { message: `Hello, ${call.request.name}!`, from: name });
  },
});
const port = await new Promise<number>((resolve, reject) => {
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) =>
    error ? reject(error) : resolve(port),
  );
});

const etcd = new Etcd3({ hosts, ...registrarClientOptions() });
const registration = await register({ client: etcd, service, addr: `127.0.0.1:${port}`, ttl });
send({
  type: "ready",
  addr: registration.addr,
  key: registration.key,
  leaseId: registration.leaseId,
  registeredAt: Date.now(),
});

const drain = drainOnSignals(registration, {
  grace,
  close: () =>
    new Promise<void>((resolve) => {
      server.tryShutdown(() => resolve());
    }),
});
process.once("SIGTERM", () => send({ type: "draining", at: Date.now() }));
void drain.drained.then(() => {
  send({ type: "drained", at: Date.now() });
  etcd.close();
  process.exit(0);
});

process.on("message", (message: DemoMessage) => {
  if (message.type !== "stop") return;
  void registration.deregister().finally(() => {
    server.forceShutdown();
    etcd.close();
    process.exit(0);
  });
});
