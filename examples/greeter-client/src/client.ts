// A Greeter client that finds its servers through etcd: the `etcd:///greeter` target follows every
// endpoint registered under `greeter/`, and grpc-js balances the calls over them (round robin).
import { registerEtcdResolver } from "@etcd-naming/grpc-js";
import * as grpc from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
import { GreeterClient } from "./greeter.js";

const etcd = new Etcd3({ hosts: (process.env.ETCD_ENDPOINTS ?? "127.0.0.1:2379").split(",") });
const resolver = registerEtcdResolver({ client: etcd });
const target = `etcd:///${process.env.SERVICE ?? "greeter"}`;
const client = new GreeterClient(target, grpc.credentials.createInsecure());

const calls = Number(process.env.CALLS ?? 10);
for (let i = 1; i <= calls; i++) {
  try {
    // A call made before any server is known waits for one, up to its deadline.
    const reply = await client.sayHello(`call ${i}`, { deadline: Date.now() + 5_000 });
    console.log(`${reply.message} (from ${reply.from})`);
  } catch (error) {
    console.error(`call ${i} failed: ${(error as Error).message}`);
    process.exitCode = 1;
  }
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.INTERVAL_MS ?? 500)));
}

client.close();
await resolver.close();
etcd.close();
