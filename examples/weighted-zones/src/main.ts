// Weights and zone preference in one program. Four greeter servers in two zones register with a `weight`
// attribute; a client in zone a dials `etcd:///<service>?prefer=zone:a`, another one `etcd:///<service>`.
// Then a server pauses, a weight changes, and zone a fails and comes back, while the calls follow.
import { registerEtcdResolver } from "@etcd-naming/grpc-js";
import { type Registration, register, registrarClientOptions } from "@etcd-naming/registrar";
import * as grpc from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
import { GreeterClient, greeterService, type HelloReply, type HelloRequest } from "./greeter.js";

const etcd = new Etcd3({
  hosts: (process.env.ETCD_ENDPOINTS ?? "127.0.0.1:2379").split(","),
  ...registrarClientOptions(),
});
const service = process.env.SERVICE ?? "weighted-zones/greeter";

interface Backend {
  name: string;
  zone: string;
  weight: number;
  addr: string;
  server: grpc.Server;
  registration: Registration;
}

/** A greeter answering with its name, on `bind` (a free port by default). */
async function serve(name: string, bind = "127.0.0.1:0"): Promise<{ server: grpc.Server; addr: string }> {
  const server = new grpc.Server();
  server.addService(greeterService, {
    sayHello(call: grpc.ServerUnaryCall<HelloRequest, HelloReply>, callback: grpc.sendUnaryData<HelloReply>) {
      callback(null, { message: `Hello, ${call.request.name}!`, from: name });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(bind, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { server, addr: `127.0.0.1:${port}` };
}

const backends: Backend[] = [];
for (const [name, zone, weight] of [
  ["a1", "a", 1],
  ["a2", "a", 3],
  ["b1", "b", 1],
  ["b2", "b", 1],
] as const) {
  const { server, addr } = await serve(name);
  const attributes = { zone, weight: String(weight) };
  const registration = await register({ client: etcd, service, addr, attributes, ttl: 10 });
  backends.push({ name, zone, weight, addr, server, registration });
  console.log(`${name}: zone ${zone}, weight ${weight}, ${addr}`);
}
const backend = (name: string) => backends.find((b) => b.name === name)!;

const resolver = registerEtcdResolver({ client: etcd });
const credentials = grpc.credentials.createInsecure();
// Reconnect to a server that went away every 100–500 ms, so a restarted one is found quickly.
const channelOptions = { "grpc.initial_reconnect_backoff_ms": 100, "grpc.max_reconnect_backoff_ms": 500 };
const inZoneA = new GreeterClient(`etcd:///${service}?prefer=zone:a`, credentials, channelOptions);
const anywhere = new GreeterClient(`etcd:///${service}`, credentials, channelOptions);

let lost = 0;
let retried = 0;

/**
 * One call with a 1 s deadline, waiting for a connection rather than failing while there is none; an
 * attempt that fails (a call in flight on a connection that dropped) is made again within the deadline.
 */
async function call(client: GreeterClient): Promise<string | null> {
  const deadline = Date.now() + 1_000;
  while (Date.now() < deadline) {
    try {
      // grpc-js reads waitForReady from the call's metadata options.
      const metadata = new grpc.Metadata({ waitForReady: true });
      return (await client.sayHello("weighted", { deadline }, metadata)).from;
    } catch {
      if (Date.now() < deadline) retried++;
    }
  }
  lost++;
  return null;
}

/** `count` calls one after the other, counted by the server that answered. */
async function calls(client: GreeterClient, count: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const from = (await call(client)) ?? "lost";
    counts.set(from, (counts.get(from) ?? 0) + 1);
  }
  return counts;
}

/**
 * Waits until 40 calls split as `expected` says, server by server (a change has reached the client), or
 * just reach every server it names when `exact` is false.
 */
async function until(client: GreeterClient, expected: Record<string, number>, exact = true): Promise<void> {
  const names = Object.keys(expected).sort();
  const deadline = Date.now() + 15_000;
  for (;;) {
    const seen = await calls(client, 40);
    const reached = JSON.stringify([...seen.keys()].sort()) === JSON.stringify(names);
    if (reached && (!exact || names.every((name) => seen.get(name) === expected[name]))) return;
    if (Date.now() > deadline) {
      throw new Error(`calls never split as ${JSON.stringify(expected)}; last ${JSON.stringify([...seen])}`);
    }
  }
}

let step = 0;
async function report(label: string, client: GreeterClient, count: number): Promise<void> {
  const counts = await calls(client, count);
  const split = [...counts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, n]) => `${name} ${n} (${Math.round((n / count) * 100)}%)`);
  console.log(`${++step}. ${label}, ${count} calls: ${split.join(", ")}`);
}

try {
  await until(inZoneA, { a1: 10, a2: 30 });
  await report("client in zone a (?prefer=zone:a)", inZoneA, 400);
  await until(anywhere, { a1: 0, a2: 0, b1: 0, b2: 0 }, false);
  await report("client without preference", anywhere, 600);

  await backend("a2").registration.pause();
  await until(inZoneA, { a1: 40 });
  await report("a2 paused", inZoneA, 400);

  await backend("a2").registration.resume();
  await backend("a1").registration.setAttributes({ zone: "a", weight: "3" });
  await until(inZoneA, { a1: 20, a2: 20 });
  await report("a2 resumed, a1 weight 3", inZoneA, 400);

  // Zone a fails: its servers stop at once, their keys stay in etcd (the leases are still kept alive).
  for (const name of ["a1", "a2"]) backend(name).server.forceShutdown();
  await report("zone a down", inZoneA, 400);

  // And comes back on the same addresses: nothing changes in etcd, the connections come back.
  for (const name of ["a1", "a2"]) backend(name).server = (await serve(name, backend(name).addr)).server;
  await until(inZoneA, { a1: 20, a2: 20 });
  await report("zone a back", inZoneA, 400);
  console.log(`lost calls: ${lost}, attempts made again within their deadline: ${retried}`);
  if (lost > 0) process.exitCode = 1;
} catch (error) {
  console.error(`weighted-zones failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  inZoneA.close();
  anywhere.close();
  await resolver.close();
  for (const b of backends) {
    await b.registration.deregister();
    b.server.forceShutdown();
  }
  etcd.close();
}
