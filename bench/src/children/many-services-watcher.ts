// Watches `services` services from one process through one etcd3 client, in one of two ways:
//   resolver  the `etcd:` resolver with `channels` real grpc-js channels per service, each connected
//   raw       one raw etcd3 prefix watch per service (etcd3 multiplexes them on one stream): the baseline
// It prints "ready" once every service is listed (and, for the resolver, every channel is READY), then a
// "mark" each time it gets SIGUSR2: its CPU, RSS, settled heap and the updates it has received by then.
// argv: <etcd host:port> <prefix> <services> <mode> <channels per service>

import { registerEtcdResolver } from "@etcd-naming/grpc-js";
import * as grpc from "@grpc/grpc-js";
import { Etcd3, type Watcher } from "etcd3";
import { quietLogger, settledHeap, until } from "../support.js";

const [host, prefix, servicesArg, mode, channelsArg] = process.argv.slice(2);
if (host === undefined || prefix === undefined || !servicesArg || (mode !== "resolver" && mode !== "raw")) {
  console.error(
    "usage: many-services-watcher <etcd host:port> <prefix> <services> <resolver|raw> <channels>",
  );
  process.exit(2);
}
const services = Number(servicesArg);
const channelsPerService = Number(channelsArg ?? "1");
const service = (i: number) => `${prefix}/s${i}`;
const send = (message: object) => console.log(JSON.stringify(message));

const started = performance.now();
const client = new Etcd3({ hosts: [host] });
/** Updates per service: resolver updates (each reaches that service's channels), or raw watch events. */
const updates = new Array<number>(services).fill(0);
const cpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

if (mode === "raw") {
  const watchers: Watcher[] = [];
  for (let i = 0; i < services; i++) {
    // As a plain user would: list, then watch from the listing's revision + 1.
    const listing = await client
      .getAll()
      .prefix(`${service(i)}/`)
      .exec();
    const watcher = await client
      .watch()
      .prefix(`${service(i)}/`)
      .startRevision(String(BigInt(listing.header.revision) + 1n))
      .create();
    watcher.on("put", () => updates[i]!++);
    watcher.on("delete", () => updates[i]!++);
    watchers.push(watcher);
  }
} else {
  const index = new Map<string, number>();
  for (let i = 0; i < services; i++) index.set(service(i), i);
  const resolver = registerEtcdResolver({ client, logger: quietLogger });
  resolver.on("update", ({ service: name }) => {
    const i = index.get(name);
    if (i !== undefined) updates[i]!++;
  });
  const channels: grpc.Client[] = [];
  for (let i = 0; i < services; i++) {
    for (let c = 0; c < channelsPerService; c++) {
      const channel = new grpc.Client(
        `${resolver.scheme}:///${service(i)}`,
        grpc.credentials.createInsecure(),
      );
      channel.getChannel().getConnectivityState(true);
      channels.push(channel);
    }
  }
  const ready = grpc.connectivityState.READY;
  await until(
    () => channels.every((c) => c.getChannel().getConnectivityState(false) === ready),
    120_000,
    `${channels.length} channels to be READY`,
    50,
  );
  await until(() => resolver.watchedServices === services, 30_000, `${services} watched services`, 50);
}
// Updates from the initial listings are not changes: count from here.
updates.fill(0);

async function mark(): Promise<object> {
  const cpu = cpuMs();
  const at = performance.now();
  const rss = process.memoryUsage().rss;
  const heap = await settledHeap();
  return {
    type: "mark",
    at,
    cpuMs: cpu,
    // The collections above are this process's own work, not the watch's: the next window starts after them.
    cpuAfterMarkMs: cpuMs(),
    atAfterMark: performance.now(),
    rss,
    heap,
    updates: updates.reduce((sum, n) => sum + n, 0),
    servicesUpdated: updates.filter((n) => n > 0).length,
    perService: updates,
  };
}
let marking = Promise.resolve();
process.on("SIGUSR2", () => {
  marking = marking.then(async () => send(await mark()));
});
send({ type: "ready", setupMs: Math.round(performance.now() - started), pid: process.pid });
// Nothing else to do: the watches hold the process open until the parent kills it.
