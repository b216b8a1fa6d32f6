// A Connect greeter in its own process, registered with a short TTL, for the SIGKILL test. Prints its
// address once registered. Args: <etcd endpoints> <service> <id>.
import { register } from "@etcd-naming/registrar";
import { Etcd3 } from "etcd3";
import { startConnectGreeter } from "./greeter.js";

const [endpoints = "", service = "", id = ""] = process.argv.slice(2);
const server = await startConnectGreeter(id);
const client = new Etcd3({ hosts: endpoints.split(",") });
await register({ client, service, addr: server.addr, ttl: 2 });
console.log(server.addr);
