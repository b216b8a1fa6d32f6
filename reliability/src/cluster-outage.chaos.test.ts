import { greeterClient, startGreeter } from "@etcd-naming/etcd-fixture/greeter";
import { registerEtcdResolver } from "@etcd-naming/grpc-js";
import { register, registrarClientOptions } from "@etcd-naming/registrar";
import { createEtcd3Source, type Etcd3Source, watchService } from "@etcd-naming/watcher";
import { expect, it, vi } from "vitest";
import { callLoop } from "./call-loop.js";
import { sleep } from "./chaos-env.js";
import { useChaosCluster } from "./chaos-rig.js";
import { until } from "./cluster-tools.js";
import { diffSets, etcdEndpoints } from "./history.js";
import { writeResults } from "./results.js";
import { WatchRecorder } from "./watch-recorder.js";

vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

const root = "chaos/outage";
const service = `${root}/greeter`;
const quiet = { warn: () => {}, error: () => {} };
const TTL = 3;

const rig = useChaosCluster("chaos-outage", root);
const { recorders, registrations, servers } = rig;
const sources: Etcd3Source[] = [];
const client = rig.client;

it("re-registers under new leases, catches watchers up, and keeps RPCs flowing through a full outage", async () => {
  const { cluster, history } = rig;
  for (const id of ["a", "b", "c"]) {
    const server = await startGreeter(id);
    servers.push(server);
    registrations.push(
      await register({
        client: client(registrarClientOptions()),
        service,
        addr: server.addr,
        ttl: TTL,
        logger: quiet,
      }),
    );
  }
  const oldLeases = registrations.map((r) => r.leaseId);
  const reregisteredAt = new Map<string, number>();
  for (const r of registrations) r.on("reregistered", () => reregisteredAt.set(r.key, Date.now()));

  for (const name of ["w1", "w2", "w3"]) {
    const source = createEtcd3Source(client());
    sources.push(source);
    recorders.push(new WatchRecorder(name, watchService(source, service, { coalesceMs: 0, logger: quiet })));
  }
  await Promise.all(recorders.map((r) => r.watcher.ready()));
  const before = recorders.map((r) => r.current());

  rig.resolver = registerEtcdResolver({ client: client(), logger: quiet });
  const greeter = greeterClient(`etcd:///${service}`);
  const calls = callLoop(greeter);
  await until(() => Object.keys(calls.stats.byServer).length === 3, {
    describe: () => JSON.stringify(calls.stats),
  });
  const callsBefore = { ok: calls.stats.ok, failed: calls.stats.failed };

  // Down for twice the TTL: every lease runs out of keep-alives. Every member is killed at the same
  // instant, so the outage starts at one moment on every etcd version. A graceful stop does not: since
  // etcd 3.5.18 and 3.6.0 a stopping member waits up to its request timeout (5 s + 2 × election timeout)
  // for open client streams to end, refusing new connections while raft and the lessor run on. With a
  // quorum of members still stopping, leases that can open no keep-alive stream meanwhile (here: the
  // registrars, which open theirs one keep-alive interval after the grant) expire and etcd deletes their
  // keys before the cluster is down; watchers rightly show those deletes (docs/reliability.md).
  const downAt = Date.now();
  await Promise.all(cluster.members.map((m) => m.kill()));
  await until(() => recorders.every((r) => r.watcher.snapshot().stale));
  await sleep(Math.max(0, downAt + 2 * TTL * 1000 - Date.now()));
  // Meanwhile watchers kept their last known set.
  expect(recorders.map((r) => r.current())).toEqual(before);
  const callsDuringOutage = {
    ok: calls.stats.ok - callsBefore.ok,
    failed: calls.stats.failed - callsBefore.failed,
  };
  await Promise.all(cluster.members.map((m) => m.start()));
  const upAt = Date.now();
  const outageMs = upAt - downAt;
  await cluster.leader();

  // Every registration is back under a new lease, and every watcher shows etcd's list.
  const reader = client();
  await until(() => registrations.every((r, i) => reregisteredAt.has(r.key) && r.leaseId !== oldLeases[i]), {
    describe: () => registrations.map((r) => `${r.key} lease ${r.leaseId}`).join("; "),
  });
  const reregisterMs = Math.max(...[...reregisteredAt.values()].map((t) => t - upAt));
  await until(
    async () => {
      const now = await etcdEndpoints(reader, service);
      return (
        now.size === registrations.length && recorders.every((r) => diffSets(r.current(), now) === undefined)
      );
    },
    { describe: async () => recorders.map((r) => diffSets(r.current(), new Map())).join("; ") },
  );
  const watchersConvergedMs = Date.now() - upAt;
  const leased = await reader.kv.range({
    key: Buffer.from(`${service}/`),
    range_end: Buffer.from(`${service}0`),
  });
  expect(leased.kvs.map((kv) => String(kv.lease)).sort()).toEqual(registrations.map((r) => r.leaseId).sort());
  // The old leases (restored by etcd on restart) are revoked rather than left to expire.
  await until(async () => {
    const { leases } = await reader.leaseClient.leaseLeases({});
    return oldLeases.every((id) => !leases.some((l) => String(l.ID) === id));
  });

  await sleep(500);
  const stats = await calls.stop();
  greeter.close();
  await history.sync();
  const mismatches = recorders.flatMap((r) => r.checkHistory(history));
  expect(mismatches).toEqual([]);
  expect(callsDuringOutage.ok).toBeGreaterThan(0);
  expect(stats.failed - callsBefore.failed, JSON.stringify(stats.failures.slice(0, 5))).toBe(0);

  writeResults("cluster-outage", {
    ttlSeconds: TTL,
    outageMs,
    reregisterAfterEtcdBackMs: reregisterMs,
    watchersConvergedAfterEtcdBackMs: watchersConvergedMs,
    watcherLists: sources.map((s) => s.stats().lists),
    watcherMismatches: mismatches.length,
    rpcsDuringOutage: callsDuringOutage,
    rpcs: { ok: stats.ok, failed: stats.failed - callsBefore.failed },
  });
});
