// A Greeter server that makes itself discoverable: it registers its address in etcd under a lease it
// keeps alive, and on SIGTERM/SIGINT deregisters first, keeps serving for a grace period, then stops.
import { drainOnSignals, register, registrarClientOptions } from "@etcd-naming/registrar";
import * as grpc from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
import { greeterService, type HelloReply, type HelloRequest } from "./greeter.js";

const etcdEndpoints = (process.env.ETCD_ENDPOINTS ?? "127.0.0.1:2379").split(",");
const service = process.env.SERVICE ?? "greeter";
const host = process.env.HOST ?? "127.0.0.1";
const name = process.env.SERVER_NAME ?? `greeter-${process.pid}`;

const server = new grpc.Server();
server.addService(greeterService, {
  sayHello(call: grpc.ServerUnaryCall<HelloRequest, HelloReply>, callback: grpc.sendUnaryData<HelloReply>) {
    callback(null, { message: `Hello, ${call.request.name}!`, from: name });
  },
});
const port = await new Promise<number>((resolve, reject) => {
  const credentials = grpc.ServerCredentials.createInsecure();
  server.bindAsync(`${host}:${process.env.PORT ?? 0}`, credentials, (error, port) =>
    error ? reject(error) : resolve(port),
  );
});

const etcd = new Etcd3({ hosts: etcdEndpoints, ...registrarClientOptions() });
const registration = await register({ client: etcd, service, addr: `${host}:${port}`, ttl: 10 });
console.log(`${name} serving on ${registration.addr}, registered as ${registration.key}`);

drainOnSignals(registration, {
  grace: Number(process.env.GRACE_MS ?? 2_000),
  close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve(etcd.close()))),
});
