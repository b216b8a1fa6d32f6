// An HTTP server registered in etcd, run as its own process so a test can SIGKILL it.
// argv: <etcd endpoints, comma-separated> <service> <name> <ttl seconds>. Prints {"event":"registered","addr"}.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { register } from "@etcd-naming/registrar";
import { Etcd3 } from "etcd3";

const [endpoints, service, name, ttl] = process.argv.slice(2);
const server = createServer((_, response) => response.end(name));
server.listen(0, "127.0.0.1", async () => {
  const addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new Etcd3({ hosts: endpoints!.split(",") });
  await register({ client, service: service!, addr, key: `${service}/${name}`, ttl: Number(ttl) });
  process.stdout.write(`${JSON.stringify({ event: "registered", addr })}\n`);
});
