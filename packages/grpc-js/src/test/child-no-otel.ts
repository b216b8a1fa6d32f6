// A client process in which `@opentelemetry/*` cannot be imported (see no-otel.mjs):
//   node --conditions=@etcd-naming/source --import tsx --import ./no-otel.mjs child-no-otel.ts <endpoints> <service>
// It resolves a service through the etcd: scheme, calls it and prints one JSON line.
import { encodeEndpoint } from "@etcd-naming/codec";
import { greeters } from "@etcd-naming/etcd-fixture/greeter";
import { Etcd3 } from "etcd3";
import { registerEtcdResolver } from "../register.js";

const [endpoints = "", service = ""] = process.argv.slice(2);
let hidden = false;
try {
  await import("@opentelemetry/api");
} catch {
  hidden = true;
}
const client = new Etcd3({ hosts: endpoints.split(",") });
const tracked = greeters();
const handle = registerEtcdResolver({ client, scheme: "etcd-no-otel", logger: {} });
try {
  const server = await tracked.server("no-otel");
  await client
    .put(`${service}/a`)
    .value(encodeEndpoint({ addr: server.addr }))
    .exec();
  const reply = await tracked.connect(`etcd-no-otel:///${service}`).whoAmI();
  const snapshot = handle.snapshot(service);
  process.stdout.write(`${JSON.stringify({ hidden, reply, endpoints: snapshot?.endpoints.length })}\n`);
} finally {
  await handle.close();
  await tracked.close();
  await client.delete().prefix(`${service}/`).exec();
  client.close();
}
