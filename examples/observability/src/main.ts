// A greeter registered in etcd and a client resolving it through etcd:///<service>, with the packages'
// OpenTelemetry metrics served for Prometheus at http://<METRICS_HOST>:<METRICS_PORT>/metrics.
//
// The packages record into the global MeterProvider: set it up before the first register() and
// registerEtcdResolver() (or pass `meterProvider` to each). Runs until SIGINT or SIGTERM.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { registerEtcdResolver } from "@etcd-naming/grpc-js";
import { type Registration, register, registrarClientOptions } from "@etcd-naming/registrar";
import * as grpc from "@grpc/grpc-js";
import { metrics } from "@opentelemetry/api";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { Etcd3 } from "etcd3";
import { GreeterClient, greeterService, type HelloReply, type HelloRequest } from "./greeter.js";

// 1. Metrics: a Prometheus exporter is a MetricReader; its request handler is mounted on our own HTTP
// server, so the port can be any (0: a free one) and /metrics could sit next to a readiness probe.
const exporter = new PrometheusExporter({ preventServerStart: true });
const meterProvider = new MeterProvider({ readers: [exporter] });
metrics.setGlobalMeterProvider(meterProvider);
const http = createServer((request, response) => {
  if (request.url === "/metrics") exporter.getMetricsRequestHandler(request, response);
  else response.writeHead(404).end();
});
await new Promise<void>((resolve) =>
  http.listen(Number(process.env.METRICS_PORT ?? 9464), process.env.METRICS_HOST ?? "127.0.0.1", resolve),
);
const { address, port } = http.address() as AddressInfo;

// 2. Two greeters registered in etcd, and a client resolving them.
const etcd = new Etcd3({
  hosts: (process.env.ETCD_ENDPOINTS ?? "127.0.0.1:2379").split(","),
  ...registrarClientOptions(),
});
const service = process.env.SERVICE ?? "observability/greeter";

async function serve(name: string): Promise<{ server: grpc.Server; registration: Registration }> {
  const server = new grpc.Server();
  server.addService(greeterService, {
    sayHello(call: grpc.ServerUnaryCall<HelloRequest, HelloReply>, callback: grpc.sendUnaryData<HelloReply>) {
      callback(null, { message: `Hello, ${call.request.name}!`, from: name });
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const registration = await register({ client: etcd, service, addr: `127.0.0.1:${bound}`, ttl: 5 });
  return { server, registration };
}

const resolver = registerEtcdResolver({ client: etcd });
const client = new GreeterClient(`etcd:///${service}`, grpc.credentials.createInsecure());
const backends = [await serve("one")];
console.log(`one: ${(await client.sayHello("metrics", { deadline: Date.now() + 5_000 })).message}`);
// A second server: a change that reaches the channel (etcd_naming.resolver.propagation.duration).
backends.push(await serve("two"));
const answered = new Set<string>();
for (let call = 0; answered.size < 2 && call < 200; call++) {
  answered.add((await client.sayHello("metrics", { deadline: Date.now() + 5_000 })).from);
}
console.log(`calls reach: ${[...answered].sort().join(", ")}`);
console.log(`metrics: http://${address}:${port}/metrics`);

// 3. A call a second while it runs; a clean shutdown on a signal.
const calls = setInterval(() => {
  client.sayHello("metrics", { deadline: Date.now() + 1_000 }).catch(() => undefined);
}, 1_000);
let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(calls);
  client.close();
  await resolver.close();
  await Promise.all(backends.map(({ registration }) => registration.deregister()));
  for (const { server } of backends) server.forceShutdown();
  etcd.close();
  await meterProvider.shutdown();
  await new Promise((resolve) => http.close(resolve));
  console.log("stopped");
}
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void stop());
