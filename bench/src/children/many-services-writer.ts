// A paced writer over many services: `rate` changes per second for `durationMs`, change n to the endpoint
// `<prefix>/s<k>/e0` of service k = n * 7919 mod services (a stride prime to the count, so consecutive
// changes land on services far apart and every service gets its share), in its own process so that its
// CPU is not counted against the watchers being measured. Each change rewrites the endpoint with a new
// metadata generation: one event for that service only.
// argv: <etcd host:port> <prefix> <services> <rate per second> <duration ms> <addr>
import { encodeEndpoint } from "@etcd-naming/codec";
import { Etcd3 } from "etcd3";

const [host, prefix, servicesArg, rateArg, durationArg, addr] = process.argv.slice(2);
if (host === undefined || prefix === undefined || !servicesArg || !rateArg || !durationArg || !addr) {
  console.error(
    "usage: many-services-writer <etcd host:port> <prefix> <services> <rate> <duration ms> <addr>",
  );
  process.exit(2);
}
const services = Number(servicesArg);
const rate = Number(rateArg);
const durationMs = Number(durationArg);
const STRIDE = 7919;

const client = new Etcd3({ hosts: [host] });
await client.get(`${prefix}/s0/e0`).string();
let issued = 0;
let failed = 0;
const pending = new Set<Promise<unknown>>();

console.log(JSON.stringify({ type: "started" }));
const start = performance.now();
await new Promise<void>((resolve) => {
  const tick = () => {
    const elapsed = performance.now() - start;
    const due = Math.floor((Math.min(elapsed, durationMs) * rate) / 1000);
    while (issued < due) {
      const n = issued++;
      const write = client
        .put(`${prefix}/s${(n * STRIDE) % services}/e0`)
        .value(encodeEndpoint({ addr, metadata: { generation: n } }))
        .exec()
        .then(
          () => undefined,
          () => {
            failed++;
          },
        );
      pending.add(write);
      void write.finally(() => pending.delete(write));
    }
    if (elapsed >= durationMs) resolve();
    else setTimeout(tick, 5);
  };
  tick();
});
await Promise.all(pending);
console.log(
  JSON.stringify({ type: "done", issued, failed, elapsedMs: Math.round(performance.now() - start) }),
);
client.close();
