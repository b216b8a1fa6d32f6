// Registers one endpoint and keeps it alive until killed: the server that scenario 8 SIGKILLs.
// argv: <etcd host:port> <service> <addr> <ttl seconds>
import { register, registrarClientOptions } from "@etcd-naming/registrar";
import { Etcd3 } from "etcd3";

const [host, service, addr, ttl] = process.argv.slice(2);
if (host === undefined || service === undefined || addr === undefined || ttl === undefined) {
  console.error("usage: registrant <etcd host:port> <service> <addr> <ttl seconds>");
  process.exit(2);
}
const client = new Etcd3({ hosts: [host], ...registrarClientOptions() });
const registration = await register({ client, service, addr, ttl: Number(ttl) });
console.log(JSON.stringify({ type: "registered", key: registration.key, leaseId: registration.leaseId }));
// Nothing else to do: the keep-alive holds the process open until the parent kills it.
