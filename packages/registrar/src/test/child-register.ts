// A stand-in server process for the crash and drain tests:
//   node --conditions=@etcd-naming/source --import tsx child-register.ts <endpoints> <service> <addr> <ttl> <crash|drain>
import { Etcd3 } from "etcd3";
import { drainOnSignals } from "../drain.js";
import { register } from "../registration.js";

const [endpoints = "", service = "", addr = "", ttl = "5", mode = "crash"] = process.argv.slice(2);
const client = new Etcd3({ hosts: endpoints.split(",") });
const registration = await register({ client, service, addr, ttl: Number(ttl) });
// The "server": keeps the process alive until the drain closes it.
const server = setInterval(() => undefined, 60_000);
const say = (event: string, extra: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ event, at: Date.now(), ...extra })}\n`);

if (mode === "drain") {
  drainOnSignals(registration, {
    grace: 400,
    close: () => {
      say("closed");
      clearInterval(server);
      client.close();
    },
  });
}
say("registered", { key: registration.key, leaseId: registration.leaseId });
