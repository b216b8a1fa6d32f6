// Issue 10, suite 6: 1,000 open/close cycles each of watchers, registrations (on a shared lease) and
// grpc-js channels through the resolver must leave no handle, timer or etcd watch behind: the counts
// after the cycles are compared with those before, with a small constant slack, never a growth
// proportional to the number of cycles.
import { encodeEndpoint } from "@etcd-naming/codec";
import { type EtcdCluster, startEtcdCluster } from "@etcd-naming/etcd-fixture";
import { type GreeterServer, greeterClient, startGreeter } from "@etcd-naming/etcd-fixture/greeter";
import { type EtcdResolverHandle, registerEtcdResolver } from "@etcd-naming/grpc-js";
import { register, registrarClientOptions } from "@etcd-naming/registrar";
import { createEtcd3Source, watchService } from "@etcd-naming/watcher";
import { Etcd3, type IOptions } from "etcd3";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { clusterMetric, until } from "./cluster-tools.js";
import { writeResults } from "./results.js";

vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

const CYCLES = 1_000;
// Handles that come and go on their own (a keep-alive tick, a socket being torn down).
const SLACK = 8;
const root = "chaos/hygiene";
const quiet = { warn: () => {}, error: () => {} };
const WATCHERS = "etcd_debugging_mvcc_watcher_total";

let cluster: EtcdCluster;
const clients: Etcd3[] = [];
const figures: Record<string, unknown> = {};
let resolver: EtcdResolverHandle | undefined;
let server: GreeterServer | undefined;

beforeAll(async () => {
  cluster = await startEtcdCluster({ size: 3, name: "chaos-hygiene" });
});

afterAll(async () => {
  await resolver?.close();
  await server?.close();
  for (const c of clients) c.close();
  await cluster?.close();
  writeResults("hygiene", { cycles: CYCLES, slack: SLACK, ...figures });
});

const client = (options: Omit<IOptions, "hosts"> = {}) => {
  const created = new Etcd3({ ...options, hosts: cluster.endpoints });
  clients.push(created);
  return created;
};

interface Census {
  handles: number;
  timers: number;
  etcdWatches: number;
}

async function census(): Promise<Census> {
  const resources = process.getActiveResourcesInfo();
  return {
    handles: resources.length,
    timers: resources.filter((r) => r === "Timeout").length,
    etcdWatches: await clusterMetric(cluster, WATCHERS),
  };
}

/** Runs `cycle` CYCLES times between two censuses; the second waits for things to settle. */
async function cycles(name: string, cycle: (i: number) => Promise<void>): Promise<void> {
  await cycle(-1); // warm-up: connections and lazily created pools are not leaks
  const before = await census();
  const started = Date.now();
  for (let i = 0; i < CYCLES; i++) await cycle(i);
  const elapsedMs = Date.now() - started;
  let after = await census();
  await until(
    async () => {
      after = await census();
      return (
        after.handles <= before.handles + SLACK &&
        after.timers <= before.timers + SLACK &&
        after.etcdWatches <= before.etcdWatches
      );
    },
    { timeoutMs: 15_000, describe: () => `before ${JSON.stringify(before)}, after ${JSON.stringify(after)}` },
  ).catch(() => {});
  figures[name] = { elapsedMs, before, after };
  expect(after.etcdWatches).toBeLessThanOrEqual(before.etcdWatches);
  expect(after.handles).toBeLessThanOrEqual(before.handles + SLACK);
  expect(after.timers).toBeLessThanOrEqual(before.timers + SLACK);
}

it("leaves nothing behind after 1,000 watchService + close cycles", async () => {
  const source = createEtcd3Source(client());
  const service = `${root}/watched`;
  // The gauge does see one watcher's watch (so the comparison below can fail).
  const base = await clusterMetric(cluster, WATCHERS);
  const probe = watchService(source, service, { logger: quiet });
  await probe.ready();
  await until(async () => (await clusterMetric(cluster, WATCHERS)) === base + 1);
  await probe.close();
  await cycles("watchers", async () => {
    const watcher = watchService(source, service, { logger: quiet });
    await watcher.ready();
    await watcher.close();
  });
  expect(source.stats()).toMatchObject({ openWatches: 0, watchesOpened: CYCLES + 2 });
});

it("leaves nothing behind after 1,000 register + deregister cycles on a shared lease", async () => {
  const registrar = client(registrarClientOptions());
  // The anchor keeps the lease and its keep-alive alive across the cycles.
  const anchor = await register({
    client: registrar,
    service: `${root}/anchor`,
    addr: "10.0.0.1:1",
    logger: quiet,
  });
  await cycles("registrations", async (i) => {
    const registration = await register({
      client: registrar,
      service: `${root}/registered`,
      addr: `10.1.${Math.floor((i + 1) / 250)}.${((i + 1) % 250) + 1}:1`,
      logger: quiet,
    });
    expect(registration.leaseId).toBe(anchor.leaseId);
    await registration.deregister();
  });
  const left = await registrar.getAll().prefix(`${root}/registered/`).keys();
  expect(left).toEqual([]);
  await anchor.deregister();
});

it("leaves nothing behind after 1,000 grpc-js channels through etcd:/// opened and closed", async () => {
  server = await startGreeter("only");
  const service = `${root}/grpc`;
  await client()
    .put(`${service}/${server.addr}`)
    .value(encodeEndpoint({ addr: server.addr }));
  resolver = registerEtcdResolver({ client: client(), logger: quiet });
  const handle = resolver;
  await cycles("resolverChannels", async () => {
    const greeter = greeterClient(`etcd:///${service}`);
    expect(await greeter.whoAmI({ deadlineMs: 5_000 })).toBe("only");
    greeter.close();
  });
  await until(() => handle.watchedServices === 0);
});
