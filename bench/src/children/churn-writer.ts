// A paced writer: `rate` changes per second for `durationMs` over the keys `<service>/e0…e<keys-1>`
// (a third updates, a third deletes, a third puts the deleted key back), in its own process so that its
// CPU is not counted against the watcher being measured.
// argv: <etcd host:port> <service> <keys> <rate per second> <duration ms>
import { encodeEndpoint } from "@etcd-naming/codec";
import { Etcd3 } from "etcd3";

const [host, service, keysArg, rateArg, durationArg] = process.argv.slice(2);
if (host === undefined || service === undefined || !keysArg || !rateArg || !durationArg) {
  console.error("usage: churn-writer <etcd host:port> <service> <keys> <rate> <duration ms>");
  process.exit(2);
}
const keys = Number(keysArg);
const rate = Number(rateArg);
const durationMs = Number(durationArg);
// Beyond this many unanswered writes etcd is not keeping up: skip ticks rather than queue without bound.
const MAX_IN_FLIGHT = 1_000;

const client = new Etcd3({ hosts: [host] });
const key = (i: number) => `${service}/e${i}`;
const addr = (i: number, n: number) => `10.${(i >> 8) & 255}.${i & 255}.1:${10_000 + (n % 50_000)}`;

await client.get(key(0)).string();
let issued = 0;
let failed = 0;
// Writes run concurrently and etcd may apply a delete and the re-add of its key in either order; a delete
// that finds nothing produces no event, so the events to expect are counted from the answers.
let effective = 0;
let skipped = 0;
let inFlight = 0;
let deleted = -1;
const pending = new Set<Promise<unknown>>();

function change(n: number): Promise<unknown> {
  switch (n % 3) {
    case 0: {
      let i = Math.floor(Math.random() * keys);
      if (i === deleted) i = (i + 1) % keys;
      return client
        .put(key(i))
        .value(encodeEndpoint({ addr: addr(i, n) }))
        .exec()
        .then(() => {
          effective++;
        });
    }
    case 1: {
      deleted = Math.floor(Math.random() * keys);
      return client
        .delete()
        .key(key(deleted))
        .exec()
        .then((response) => {
          effective += Number(response.deleted);
        });
    }
    default: {
      const back = deleted;
      deleted = -1;
      return client
        .put(key(back))
        .value(encodeEndpoint({ addr: addr(back, n) }))
        .exec()
        .then(() => {
          effective++;
        });
    }
  }
}

console.log(JSON.stringify({ type: "started" }));
const start = performance.now();
await new Promise<void>((resolve) => {
  const tick = () => {
    const elapsed = performance.now() - start;
    const due = Math.min(
      Math.floor((Math.min(elapsed, durationMs) * rate) / 1000),
      Math.floor((durationMs * rate) / 1000),
    );
    while (issued < due) {
      if (inFlight >= MAX_IN_FLIGHT) {
        skipped += due - issued;
        issued = due;
        break;
      }
      const write = change(issued++).then(
        () => undefined,
        () => {
          failed++;
        },
      );
      inFlight++;
      pending.add(write);
      void write.finally(() => {
        inFlight--;
        pending.delete(write);
      });
    }
    if (elapsed >= durationMs) resolve();
    else setTimeout(tick, 2);
  };
  tick();
});
await Promise.all(pending);
const elapsedMs = performance.now() - start;
console.log(
  JSON.stringify({
    type: "done",
    issued: issued - skipped,
    effective,
    skipped,
    failed,
    elapsedMs: Math.round(elapsedMs),
  }),
);
client.close();
